/* CHECK_UNIT: a systemd unit is active, asked of systemd over D-Bus (the
 * same question `systemctl is-active` asks, without running systemctl).
 * The asking is agent/unit_control's; this file only judges the answer. */
#include "agent/health.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/unit_control.h"

int check_unit_run(const check_config_t *c, const char *bus_address, check_outcome_t *out) {
        out->ok = false;
        if (!c->unit || !c->unit[0]) {
                snprintf(out->detail, sizeof out->detail, "no unit configured");
                return -EINVAL;
        }

        /* Its error line ("cannot connect to ...", "unit X not found",
         * "unit X: ...") is already the detail a failed check shows. */
        char state[64];
        int r = unit_active_state_timed(bus_address, c->unit, check_timeout_ms(c), state,
                                        sizeof state, out->detail, sizeof out->detail);
        if (r < 0)
                return r;

        /* As `systemctl is-active`: reloading is still serving. */
        out->ok = strcmp(state, "active") == 0 || strcmp(state, "reloading") == 0;
        snprintf(out->detail, sizeof out->detail, "unit %s is %s", c->unit, state);
        return out->ok ? 0 : -ESRCH;
}
