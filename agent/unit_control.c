/* Unit control over sd-bus: restart a unit and wait until it is active
 * again, or ask for its ActiveState. See unit_control.h for the contract. */
#include "agent/unit_control.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/clock.h"

#define SYSTEMD_SERVICE           "org.freedesktop.systemd1"
#define SYSTEMD_PATH              "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER           "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT              "org.freedesktop.systemd1.Unit"
#define SYSTEMD_NO_SUCH_UNIT      "org.freedesktop.systemd1.NoSuchUnit"
#define SYSTEMD_ALREADY_SUBSCRIBED "org.freedesktop.systemd1.AlreadySubscribed"

/* sd-bus's own default for a method call, used when no timeout is given. */
#define UNIT_DEFAULT_TIMEOUT_MS 25000
/* How often ActiveState is asked after the job finished. Activation after a
 * "done" job is usually immediate, so the first look mostly answers. */
#define UNIT_POLL_MS 50

/* Scope cleanup: libsystemd's own helpers (sd_bus_message_unrefp and
 * friends, and sd_bus_error_free, which takes the variable's address). */
__attribute__((format(printf, 4, 5)))
static int s_fail(char *error, size_t error_len, int r, const char *fmt, ...) {
        if (error && error_len > 0) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(error, error_len, fmt, ap);
                va_end(ap);
        }
        return r;
}

/* -ENOENT is reserved for "no such unit" (see the header); any other
 * source of it (a bus error systemd maps to ENOENT, a missing socket) is
 * something else going wrong. */
static int s_not_unit_errno(int r, int instead) {
        return r == -ENOENT ? instead : r;
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

static int s_connect(const char *address, int64_t timeout_ms, sd_bus **ret_bus, char *error,
                     size_t error_len) {
        int r = s_bus_open(address, timeout_ms, ret_bus);
        if (r < 0)
                return s_fail(error, error_len, s_not_unit_errno(r, -ECONNREFUSED),
                              "cannot connect to %s: %s",
                              address ? address : "the system bus", strerror(-r));
        return 0;
}

/* Every call gets what is left of the caller's budget, so the sum of the
 * calls never exceeds it. */
static int s_budget(sd_bus *bus, int64_t deadline_ms) {
        int64_t left = deadline_ms - clock_mono_ms();
        if (left <= 0)
                return -ETIMEDOUT;
        return sd_bus_set_method_call_timeout(bus, (uint64_t) left * 1000);
}

/* A failed call as -errno and a line: "unit X not found" for systemd's
 * NoSuchUnit, else "unit X: <what systemd said>". */
static int s_call_failed(const sd_bus_error *e, int r, const char *unit, char *error,
                         size_t error_len) {
        if (sd_bus_error_has_name(e, SYSTEMD_NO_SUCH_UNIT))
                return s_fail(error, error_len, -ENOENT, "unit %s not found", unit);
        return s_fail(error, error_len, s_not_unit_errno(r, -EIO), "unit %s: %s", unit,
                      e->message ? e->message : strerror(-r));
}

/* GetUnit answers only for loaded units; an inactive unit may have been
 * unloaded, so ask systemd to load it before concluding anything. A unit
 * whose LoadState is "not-found" does not exist. */
static int s_unit_object(sd_bus *bus, const char *unit, int64_t deadline_ms, char **ret_path,
                         char *error, size_t error_len) {
        __attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
        __attribute__((cleanup(sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
        _cleanup_free_ char *load_state = NULL;

        int r = s_budget(bus, deadline_ms);
        if (r >= 0)
                r = sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                       "GetUnit", &e, &reply, "s", unit);
        if (r < 0 && sd_bus_error_has_name(&e, SYSTEMD_NO_SUCH_UNIT)) {
                sd_bus_error_free(&e);
                r = s_budget(bus, deadline_ms);
                if (r >= 0)
                        r = sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                               "LoadUnit", &e, &reply, "s", unit);
        }
        if (r < 0)
                return s_call_failed(&e, r, unit, error, error_len);

        const char *path;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return s_fail(error, error_len, s_not_unit_errno(r, -EIO),
                              "unit %s: unexpected reply: %s", unit, strerror(-r));

        r = s_budget(bus, deadline_ms);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, SYSTEMD_SERVICE, path, SYSTEMD_UNIT,
                                               "LoadState", &e, &load_state);
        if (r < 0)
                return s_call_failed(&e, r, unit, error, error_len);
        if (strcmp(load_state, "not-found") == 0)
                return s_fail(error, error_len, -ENOENT, "unit %s not found", unit);

        char *copy = strdup(path);
        if (!copy)
                return s_fail(error, error_len, -ENOMEM, "unit %s: out of memory", unit);
        *ret_path = copy;
        return 0;
}

static int s_active_state(sd_bus *bus, const char *unit, const char *path, int64_t deadline_ms,
                          char **ret_state, char *error, size_t error_len) {
        __attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = s_budget(bus, deadline_ms);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, SYSTEMD_SERVICE, path, SYSTEMD_UNIT,
                                               "ActiveState", &e, ret_state);
        if (r < 0)
                return s_call_failed(&e, r, unit, error, error_len);
        return 0;
}

int unit_active_state_timed(const char *bus_address, const char *unit, int64_t timeout_ms,
                            char *ret_state, size_t len, char *error, size_t error_len) {
        if (!unit || !unit[0])
                return s_fail(error, error_len, -EINVAL, "no unit given");
        if (timeout_ms <= 0)
                return s_fail(error, error_len, -EINVAL, "unit %s: timeout must be positive", unit);
        int64_t deadline = clock_mono_ms() + timeout_ms;

        __attribute__((cleanup(sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;
        int r = s_connect(bus_address, timeout_ms, &bus, error, error_len);
        if (r < 0)
                return r;

        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *state = NULL;
        r = s_unit_object(bus, unit, deadline, &path, error, error_len);
        if (r >= 0)
                r = s_active_state(bus, unit, path, deadline, &state, error, error_len);
        if (r < 0)
                return r;
        if (strlen(state) >= len)
                return s_fail(error, error_len, -ENOBUFS, "unit %s: state %s does not fit", unit,
                              state);
        memcpy(ret_state, state, strlen(state) + 1);
        return 0;
}

int unit_active_state(const char *bus_address, const char *unit, char *ret_state, size_t len) {
        return unit_active_state_timed(bus_address, unit, UNIT_DEFAULT_TIMEOUT_MS, ret_state, len,
                                       NULL, 0);
}

/* ---- jobs: restart, start, stop --------------------------------------------------------------- */

typedef struct {
        const char *job;        /* our job's object path */
        bool removed;
        char result[32];        /* JobRemoved's result, once removed */
} job_wait_t;

/* Every JobRemoved of every unit comes here; only ours counts (someone
 * else's job for the same unit is not our restart). sd_bus_call() queues
 * signals that arrive while it waits for the RestartUnit reply without
 * dispatching them, so by the time this runs, job is known. */
static int s_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        (void) ret_error;
        job_wait_t *w = userdata;
        uint32_t id;
        const char *path, *unit, *result;
        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (w->job && !w->removed && strcmp(path, w->job) == 0) {
                snprintf(w->result, sizeof w->result, "%s", result);
                w->removed = true;
        }
        return 0;
}

static void s_sleep_ms(int64_t ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* After a "done" job: ActiveState until the state the job is for (0):
 * "active" after a start or restart, "inactive" (or "failed": a service
 * that exits non-zero on SIGTERM) after a stop. A dead end (failed or
 * inactive after a start: -EIO) or the deadline (-ETIMEDOUT, naming the
 * last state seen) ends it. Anything else (activating, reloading,
 * deactivating) is on its way; look again. */
static int s_wait_state(sd_bus *bus, const char *unit, bool want_active, const char *verb, int64_t deadline_ms,
                        int64_t timeout_ms, char *error, size_t error_len) {
        _cleanup_free_ char *path = NULL;
        char last[32] = "";
        int r = s_unit_object(bus, unit, deadline_ms, &path, error, error_len);
        while (r >= 0) {
                _cleanup_free_ char *state = NULL;
                r = s_active_state(bus, unit, path, deadline_ms, &state, error, error_len);
                if (r < 0)
                        break;
                bool stopped = strcmp(state, "failed") == 0 || strcmp(state, "inactive") == 0;
                if (want_active ? strcmp(state, "active") == 0 : stopped)
                        return 0;
                if (want_active && stopped)
                        return s_fail(error, error_len, -EIO, "unit %s is %s after its %s", unit, state, verb);
                snprintf(last, sizeof last, "%s", state);
                int64_t left = deadline_ms - clock_mono_ms();
                if (left <= 0)
                        r = -ETIMEDOUT;
                else
                        s_sleep_ms(left < UNIT_POLL_MS ? left : UNIT_POLL_MS);
        }
        if (r == -ETIMEDOUT && last[0])
                return s_fail(error, error_len, r, "unit %s: still %s after %lld ms", unit, last,
                              (long long) timeout_ms);
        if (r == -ETIMEDOUT)
                return s_fail(error, error_len, r, "unit %s: not %s within %lld ms", unit,
                              want_active ? "active" : "stopped", (long long) timeout_ms);
        return r;
}

/* Runs method (RestartUnit, StartUnit, StopUnit) on unit, waits for its
 * job, then for the state the job is for (see unit_control.h). */
static int s_unit_job(const char *bus_address, const char *unit, const char *method, const char *verb,
                      bool want_active, int64_t timeout_ms, char *error, size_t error_len) {
        if (!unit || !unit[0])
                return s_fail(error, error_len, -EINVAL, "no unit given");
        if (timeout_ms <= 0)
                return s_fail(error, error_len, -EINVAL, "unit %s: timeout must be positive", unit);
        int64_t deadline = clock_mono_ms() + timeout_ms;

        __attribute__((cleanup(sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;
        int r = s_connect(bus_address, timeout_ms, &bus, error, error_len);
        if (r < 0)
                return r;

        /* The match first, then Subscribe, then the restart: a JobRemoved
         * emitted at any point after RestartUnit is then already routed to
         * us (systemd may even send it before its reply). systemd emits job
         * signals only while some client is subscribed; the subscription
         * ends with this connection. */
        job_wait_t wait = { 0 };
        __attribute__((cleanup(sd_bus_slot_unrefp))) sd_bus_slot *slot = NULL;
        __attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
        __attribute__((cleanup(sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
        r = s_budget(bus, deadline);
        if (r >= 0)
                r = sd_bus_match_signal(bus, &slot, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                        "JobRemoved", s_job_removed, &wait);
        if (r < 0)
                return s_fail(error, error_len, s_not_unit_errno(r, -EIO),
                              "unit %s: cannot watch systemd's jobs: %s", unit, strerror(-r));

        r = s_budget(bus, deadline);
        if (r >= 0)
                r = sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                       "Subscribe", &e, NULL, NULL);
        if (r < 0 && !sd_bus_error_has_name(&e, SYSTEMD_ALREADY_SUBSCRIBED))
                return s_call_failed(&e, r, unit, error, error_len);
        sd_bus_error_free(&e);

        r = s_budget(bus, deadline);
        if (r >= 0)
                r = sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                       method, &e, &reply, "ss", unit, "replace");
        if (r == -ETIMEDOUT)
                return s_fail(error, error_len, r, "unit %s: no answer to %s within %lld ms",
                              unit, method, (long long) timeout_ms);
        if (r < 0)
                return s_call_failed(&e, r, unit, error, error_len);
        const char *job;
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0)
                return s_fail(error, error_len, s_not_unit_errno(r, -EIO),
                              "unit %s: unexpected %s reply: %s", unit, method, strerror(-r));
        wait.job = job;         /* points into reply, which outlives the wait */

        while (!wait.removed) {
                int64_t left = deadline - clock_mono_ms();
                if (left <= 0)
                        return s_fail(error, error_len, -ETIMEDOUT,
                                      "unit %s: %s job %s did not finish within %lld ms", unit,
                                      verb, job, (long long) timeout_ms);
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(bus, (uint64_t) left * 1000);
                if (r < 0)
                        return s_fail(error, error_len, s_not_unit_errno(r, -EIO),
                                      "unit %s: lost the bus while waiting for job %s: %s", unit,
                                      job, strerror(-r));
        }
        if (strcmp(wait.result, "done") != 0)
                return s_fail(error, error_len, -EIO, "unit %s: %s job ended with result %s",
                              unit, verb, wait.result);

        return s_wait_state(bus, unit, want_active, verb, deadline, timeout_ms, error, error_len);
}

int unit_restart(const char *bus_address, const char *unit, int64_t timeout_ms, char *error,
                 size_t error_len) {
        return s_unit_job(bus_address, unit, "RestartUnit", "restart", true, timeout_ms, error, error_len);
}

int unit_start(const char *bus_address, const char *unit, int64_t timeout_ms, char *error,
               size_t error_len) {
        return s_unit_job(bus_address, unit, "StartUnit", "start", true, timeout_ms, error, error_len);
}

int unit_stop(const char *bus_address, const char *unit, int64_t timeout_ms, char *error,
              size_t error_len) {
        return s_unit_job(bus_address, unit, "StopUnit", "stop", false, timeout_ms, error, error_len);
}
