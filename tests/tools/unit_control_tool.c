/* A driver for agent/unit_control, for tests against a real systemd
 * (tests/integration/60-unit-control-systemd.sh builds and runs it; the
 * Makefile does not build tests/tools).
 *
 *   unit_control_tool ADDRESS restart|start|stop UNIT TIMEOUT_MS
 *   unit_control_tool ADDRESS state UNIT
 *
 * ADDRESS is a D-Bus address, or "system" for the system bus. On success
 * prints the outcome on stdout and exits 0; on failure prints
 * "ERRNO_NAME: why" on stderr and exits 1 (2 for a usage error). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/unit_control.h"
#include "common/clock.h"

static int s_usage(void) {
        fprintf(stderr, "usage: unit_control_tool ADDRESS restart|start|stop UNIT TIMEOUT_MS\n"
                        "       unit_control_tool ADDRESS state UNIT\n");
        return 2;
}

static int s_failed(int r, const char *why) {
        const char *name = strerrorname_np(-r);
        fprintf(stderr, "%s: %s\n", name ? name : "?", why);
        return 1;
}

int main(int argc, char **argv) {
        if (argc < 4)
                return s_usage();
        const char *address = strcmp(argv[1], "system") == 0 ? NULL : argv[1];
        const char *unit = argv[3];
        char error[512] = "";

        static const struct {
                const char *verb, *done;
                int (*op)(const char *, const char *, int64_t, char *, size_t);
        } ops[] = { { "restart", "restarted", unit_restart }, { "start", "started", unit_start },
                    { "stop", "stopped", unit_stop } };
        for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
                if (strcmp(argv[2], ops[i].verb) != 0 || argc != 5)
                        continue;
                char *end;
                long long timeout_ms = strtoll(argv[4], &end, 10);
                if (*end || end == argv[4])
                        return s_usage();
                int64_t t0 = clock_mono_ms();
                int r = ops[i].op(address, unit, timeout_ms, error, sizeof error);
                if (r < 0)
                        return s_failed(r, error);
                printf("%s %s in %lld ms\n", ops[i].done, unit, (long long) (clock_mono_ms() - t0));
                return 0;
        }
        if (strcmp(argv[2], "state") == 0 && argc == 4) {
                char state[64];
                int r = unit_active_state_timed(address, unit, 10000, state, sizeof state, error,
                                                sizeof error);
                if (r < 0)
                        return s_failed(r, error);
                printf("%s\n", state);
                return 0;
        }
        return s_usage();
}
