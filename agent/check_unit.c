/* CHECK_UNIT: a systemd unit is active, asked of systemd over D-Bus (the
 * same question `systemctl is-active` asks, without running systemctl). */
#include "agent/health.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#define SYSTEMD_SERVICE   "org.freedesktop.systemd1"
#define SYSTEMD_PATH      "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER   "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT      "org.freedesktop.systemd1.Unit"
#define SYSTEMD_NO_SUCH_UNIT "org.freedesktop.systemd1.NoSuchUnit"

static void s_bus_unrefp(sd_bus **bus) {
        sd_bus_flush_close_unref(*bus);
}

static void s_message_unrefp(sd_bus_message **m) {
        sd_bus_message_unref(*m);
}

static void s_freep(void *p) {
        free(*(void **) p);
}

/* address NULL: the system bus. A private address (tests, containers) is a
 * plain bus connection like the system one, not a peer-to-peer link. */
static int s_bus_open(const char *address, int64_t timeout_ms, sd_bus **ret_bus) {
        sd_bus *bus = NULL;
        int r;
        if (!address) {
                r = sd_bus_open_system(&bus);
        } else {
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, 1);
                if (r >= 0)
                        r = sd_bus_start(bus);
        }
        if (r >= 0)
                r = sd_bus_set_method_call_timeout(bus, (uint64_t) timeout_ms * 1000);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *ret_bus = bus;
        return 0;
}

/* GetUnit answers only for loaded units; an inactive unit may have been
 * unloaded, so ask systemd to load it before concluding anything. */
static int s_unit_object(sd_bus *bus, const char *unit, sd_bus_error *error, char **ret_path) {
        __attribute__((cleanup(s_message_unrefp))) sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "GetUnit",
                                   error, &reply, "s", unit);
        if (r < 0 && sd_bus_error_has_name(error, SYSTEMD_NO_SUCH_UNIT)) {
                sd_bus_error_free(error);
                r = sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                       "LoadUnit", error, &reply, "s", unit);
        }
        if (r < 0)
                return r;
        const char *path;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        *ret_path = copy;
        return 0;
}

__attribute__((format(printf, 3, 4)))
static int s_fail(check_outcome_t *out, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out->detail, sizeof out->detail, fmt, ap);
        va_end(ap);
        out->ok = false;
        return r;
}

int check_unit_run(const check_config_t *c, const char *bus_address, check_outcome_t *out) {
        out->ok = false;
        if (!c->unit || !c->unit[0]) {
                snprintf(out->detail, sizeof out->detail, "no unit configured");
                return -EINVAL;
        }
        const char *unit = c->unit;

        __attribute__((cleanup(s_bus_unrefp))) sd_bus *bus = NULL;
        int r = s_bus_open(bus_address, check_timeout_ms(c), &bus);
        if (r < 0)
                return s_fail(out, r, "cannot connect to %s: %s",
                              bus_address ? bus_address : "the system bus", strerror(-r));

        sd_bus_error error = SD_BUS_ERROR_NULL;
        __attribute__((cleanup(s_freep))) char *path = NULL;
        __attribute__((cleanup(s_freep))) char *load_state = NULL;
        __attribute__((cleanup(s_freep))) char *active_state = NULL;

        r = s_unit_object(bus, unit, &error, &path);
        if (r < 0 && sd_bus_error_has_name(&error, SYSTEMD_NO_SUCH_UNIT)) {
                r = s_fail(out, -ENOENT, "unit %s not found", unit);
                goto out;
        }
        if (r < 0) {
                r = s_fail(out, r, "unit %s: %s", unit,
                           error.message ? error.message : strerror(-r));
                goto out;
        }

        r = sd_bus_get_property_string(bus, SYSTEMD_SERVICE, path, SYSTEMD_UNIT, "LoadState",
                                       &error, &load_state);
        if (r >= 0 && strcmp(load_state, "not-found") == 0) {
                r = s_fail(out, -ENOENT, "unit %s not found", unit);
                goto out;
        }
        if (r >= 0)
                r = sd_bus_get_property_string(bus, SYSTEMD_SERVICE, path, SYSTEMD_UNIT,
                                               "ActiveState", &error, &active_state);
        if (r < 0) {
                r = s_fail(out, r, "unit %s: %s", unit,
                           error.message ? error.message : strerror(-r));
                goto out;
        }

        /* As `systemctl is-active`: reloading is still serving. */
        out->ok = strcmp(active_state, "active") == 0 || strcmp(active_state, "reloading") == 0;
        snprintf(out->detail, sizeof out->detail, "unit %s is %s", unit, active_state);
        r = out->ok ? 0 : -ESRCH;
out:
        sd_bus_error_free(&error);
        return r;
}
