#include "tests/helpers/systemd_double.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#define SYSTEMD_SERVICE   "org.freedesktop.systemd1"
#define SYSTEMD_PATH      "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER   "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT_PATH "/org/freedesktop/systemd1/unit"
#define SYSTEMD_JOB_PATH  "/org/freedesktop/systemd1/job"

static int64_t s_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One unit as it is now, and its restart job (job_due: when it ends, 0:
 * none pending; settle_due: when it moves to settled_state, 0: never). */
typedef struct {
        const systemd_double_unit_t *cfg;
        const char *state;
        uint32_t job_id;
        bool stopping;          /* the job is a StopUnit's: it ends "inactive" */
        int64_t job_due;
        int64_t settle_due;
} double_unit_t;

typedef struct {
        sd_bus *bus;
        sd_bus_track *subscribers;
        double_unit_t *units;
        size_t n;
        uint32_t last_job_id;
} fake_systemd_t;

static double_unit_t *s_find(fake_systemd_t *d, const char *name) {
        for (size_t i = 0; i < d->n; i++)
                if (strcmp(d->units[i].cfg->name, name) == 0)
                        return &d->units[i];
        return NULL;
}

static int s_reply_unit_path(sd_bus_message *m, const char *name) {
        char *path = NULL;
        int r = sd_bus_path_encode(SYSTEMD_UNIT_PATH, name, &path);
        if (r < 0)
                return r;
        r = sd_bus_reply_method_return(m, "o", path);
        free(path);
        return r;
}

static int s_no_such_unit(sd_bus_error *error, const char *fmt, const char *name) {
        return sd_bus_error_setf(error, "org.freedesktop.systemd1.NoSuchUnit", fmt, name);
}

static int s_get_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *name;
        int r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        if (!s_find(userdata, name))
                return s_no_such_unit(error, "Unit %s not loaded.", name);
        return s_reply_unit_path(m, name);
}

static int s_load_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) userdata;
        (void) error;
        const char *name;
        int r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        return s_reply_unit_path(m, name);
}

static int s_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        fake_systemd_t *d = userdata;
        int r = sd_bus_track_add_sender(d->subscribers, m);
        if (r < 0)
                return r;
        if (r == 0)
                return sd_bus_error_set(error, "org.freedesktop.systemd1.AlreadySubscribed",
                                        "Client is already subscribed.");
        return sd_bus_reply_method_return(m, NULL);
}

static int s_unsubscribe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        fake_systemd_t *d = userdata;
        int r = sd_bus_track_remove_sender(d->subscribers, m);
        if (r < 0)
                return r;
        if (r == 0)
                return sd_bus_error_set(error, "org.freedesktop.systemd1.NotSubscribed",
                                        "Client is not subscribed.");
        return sd_bus_reply_method_return(m, NULL);
}

static int s_emit_job_removed(fake_systemd_t *d, uint32_t id, const char *unit, const char *result) {
        if (sd_bus_track_count(d->subscribers) == 0)
                return 0;
        char path[64];
        snprintf(path, sizeof path, SYSTEMD_JOB_PATH "/%" PRIu32, id);
        return sd_bus_emit_signal(d->bus, SYSTEMD_PATH, SYSTEMD_MANAGER, "JobRemoved", "uoss", id,
                                  path, unit, result);
}

/* The job ends: the unit takes its after-job state and the (decoy and)
 * real JobRemoved go out. */
static int s_finish_job(fake_systemd_t *d, double_unit_t *u) {
        const systemd_double_unit_t *c = u->cfg;
        u->job_due = 0;
        u->state = u->stopping ? "inactive" : c->state_after_job ? c->state_after_job : "active";
        if (c->settled_state && !u->stopping)
                u->settle_due = s_now_ms() + c->settle_ms;
        int r = 0;
        if (c->other_job_result)
                r = s_emit_job_removed(d, ++d->last_job_id, c->name, c->other_job_result);
        if (r >= 0)
                r = s_emit_job_removed(d, u->job_id, c->name, c->job_result);
        return r;
}

/* RestartUnit, StartUnit (the same here: the unit goes through
 * "activating") or StopUnit ("deactivating", then "inactive"). */
static int s_unit_job(sd_bus_message *m, fake_systemd_t *d, bool stop, sd_bus_error *error) {
        const char *name, *mode;
        int r = sd_bus_message_read(m, "ss", &name, &mode);
        if (r < 0)
                return r;
        double_unit_t *u = s_find(d, name);
        if (!u)
                return s_no_such_unit(error, "Unit %s not found.", name);
        if (strcmp(mode, "replace") != 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "The double only knows job mode replace, not %s.", mode);

        u->job_id = ++d->last_job_id;
        u->stopping = stop;
        u->state = stop ? "deactivating" : "activating";
        u->settle_due = 0;
        u->job_due = u->cfg->job_result ? s_now_ms() + u->cfg->job_ms : 0;
        if (u->cfg->job_result && u->cfg->job_ms == 0) {
                r = s_finish_job(d, u);
                if (r < 0)
                        return r;
        }
        char path[64];
        snprintf(path, sizeof path, SYSTEMD_JOB_PATH "/%" PRIu32, u->job_id);
        return sd_bus_reply_method_return(m, "o", path);
}

static int s_restart_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return s_unit_job(m, userdata, false, error);
}

static int s_stop_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return s_unit_job(m, userdata, true, error);
}

static int s_unit_property(sd_bus *bus, const char *path, const char *interface,
                           const char *property, sd_bus_message *reply, void *userdata,
                           sd_bus_error *error) {
        (void) bus;
        (void) interface;
        (void) error;
        char *name = NULL;
        int r = sd_bus_path_decode(path, SYSTEMD_UNIT_PATH, &name);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        const double_unit_t *u = s_find(userdata, name);
        const char *value = name;
        if (strcmp(property, "LoadState") == 0)
                value = u ? "loaded" : "not-found";
        else if (strcmp(property, "ActiveState") == 0)
                value = u ? u->state : "inactive";
        r = sd_bus_message_append(reply, "s", value);
        free(name);
        return r;
}

static const sd_bus_vtable s_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("GetUnit", "s", "o", s_get_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("LoadUnit", "s", "o", s_load_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("RestartUnit", "ss", "o", s_restart_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("StartUnit", "ss", "o", s_restart_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("StopUnit", "ss", "o", s_stop_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Subscribe", NULL, NULL, s_subscribe, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Unsubscribe", NULL, NULL, s_unsubscribe, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable s_unit_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", s_unit_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LoadState", "s", s_unit_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ActiveState", "s", s_unit_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

static int s_connect(const char *address, sd_bus **ret_bus) {
        sd_bus *bus = NULL;
        int r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *ret_bus = bus;
        return 0;
}

/* Ends the jobs and settles the units whose time has come. Returns the
 * earliest time still pending (0: none), or -errno. */
static int64_t s_run_timers(fake_systemd_t *d) {
        int64_t now = s_now_ms(), next = 0;
        for (size_t i = 0; i < d->n; i++) {
                double_unit_t *u = &d->units[i];
                if (u->job_due && u->job_due <= now) {
                        int r = s_finish_job(d, u);
                        if (r < 0)
                                return r;
                }
                if (u->settle_due && u->settle_due <= now) {
                        u->settle_due = 0;
                        u->state = u->cfg->settled_state;
                }
                if (u->job_due && (!next || u->job_due < next))
                        next = u->job_due;
                if (u->settle_due && (!next || u->settle_due < next))
                        next = u->settle_due;
        }
        return next;
}

int systemd_double_run_units(const char *bus_address, const systemd_double_unit_t *units, size_t n) {
        fake_systemd_t d = { .n = n };
        d.units = calloc(n ? n : 1, sizeof *d.units);
        if (!d.units)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                d.units[i] = (double_unit_t) {
                        .cfg = &units[i], .state = units[i].state ? units[i].state : "inactive",
                };

        int r = s_connect(bus_address, &d.bus);
        if (r >= 0)
                r = sd_bus_track_new(d.bus, &d.subscribers, NULL, NULL);
        if (r >= 0)
                r = sd_bus_add_object_vtable(d.bus, NULL, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                             s_manager_vtable, &d);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(d.bus, NULL, SYSTEMD_UNIT_PATH,
                                               SYSTEMD_SERVICE ".Unit", s_unit_vtable, NULL, &d);
        if (r >= 0)
                r = sd_bus_request_name(d.bus, SYSTEMD_SERVICE, 0);
        while (r >= 0) {
                r = sd_bus_process(d.bus, NULL);
                if (r != 0)
                        continue;
                int64_t next = s_run_timers(&d);
                if (next < 0) {
                        r = (int) next;
                        break;
                }
                int64_t now = s_now_ms();
                r = sd_bus_wait(d.bus, !next ? UINT64_MAX
                                       : next > now ? (uint64_t) (next - now) * 1000 : 0);
        }
        sd_bus_track_unref(d.subscribers);
        sd_bus_flush_close_unref(d.bus);
        free(d.units);
        return r;
}

/* The simple form's lists as units (malloc'd, *ret_n of them). */
static int s_units_from_lists(const char *const *active, const char *const *inactive,
                              systemd_double_unit_t **ret_units, size_t *ret_n) {
        size_t n = 0;
        for (const char *const *p = active; p && *p; p++)
                n++;
        for (const char *const *p = inactive; p && *p; p++)
                n++;
        systemd_double_unit_t *units = calloc(n ? n : 1, sizeof *units);
        if (!units)
                return -ENOMEM;
        size_t i = 0;
        for (const char *const *p = active; p && *p; p++)
                units[i++] = (systemd_double_unit_t) { .name = *p, .state = "active",
                                                        .job_result = "done" };
        for (const char *const *p = inactive; p && *p; p++)
                units[i++] = (systemd_double_unit_t) { .name = *p, .state = "inactive",
                                                        .job_result = "done" };
        *ret_units = units;
        *ret_n = n;
        return 0;
}

int systemd_double_run(const char *bus_address, const char *const *active_units,
                       const char *const *inactive_units) {
        systemd_double_unit_t *units;
        size_t n;
        int r = s_units_from_lists(active_units, inactive_units, &units, &n);
        if (r < 0)
                return r;
        r = systemd_double_run_units(bus_address, units, n);
        free(units);
        return r;
}

static int s_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) error;
        const char *name, *old_owner, *new_owner;
        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 &&
            strcmp(name, SYSTEMD_SERVICE) == 0 && new_owner[0])
                *(bool *) userdata = true;
        return 0;
}

int systemd_double_wait_ready(const char *bus_address, int64_t timeout_ms) {
        int64_t deadline = s_now_ms() + timeout_ms;
        sd_bus *bus = NULL;
        int r = s_connect(bus_address, &bus);
        if (r < 0)
                return r;

        /* Subscribe first, then ask: the name cannot appear unnoticed in
         * between. */
        bool ready = false;
        r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "NameOwnerChanged", s_owner_changed, &ready);
        if (r >= 0) {
                sd_bus_message *reply = NULL;
                int has = 0;
                r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s",
                                       SYSTEMD_SERVICE);
                if (r >= 0)
                        r = sd_bus_message_read(reply, "b", &has);
                sd_bus_message_unref(reply);
                ready = has;
        }
        while (r >= 0 && !ready) {
                int64_t left = deadline - s_now_ms();
                if (left <= 0) {
                        r = -ETIMEDOUT;
                        break;
                }
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(bus, (uint64_t) left * 1000);
        }
        sd_bus_flush_close_unref(bus);
        return r < 0 ? r : 0;
}

static void s_default_signals(void) {
        sigset_t none;
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) signal(SIGTERM, SIG_DFL);
        (void) signal(SIGINT, SIG_DFL);
        (void) signal(SIGHUP, SIG_DFL);
        (void) signal(SIGALRM, SIG_DFL);
}

int systemd_double_spawn_units(const char *bus_address, const systemd_double_unit_t *units,
                               size_t n, pid_t *ret_pid) {
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* The test framework's handlers (Check's SIGTERM handler
                 * kills the whole process group) must not run here. */
                s_default_signals();
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(1);
                _exit(systemd_double_run_units(bus_address, units, n) < 0 ? 1 : 0);
        }
        int r = systemd_double_wait_ready(bus_address, 10000);
        if (r < 0) {
                systemd_double_stop(pid);
                return r;
        }
        *ret_pid = pid;
        return 0;
}

int systemd_double_spawn(const char *bus_address, const char *const *active_units,
                         const char *const *inactive_units, pid_t *ret_pid) {
        systemd_double_unit_t *units;
        size_t n;
        int r = s_units_from_lists(active_units, inactive_units, &units, &n);
        if (r < 0)
                return r;
        r = systemd_double_spawn_units(bus_address, units, n, ret_pid);
        free(units);
        return r;
}

int systemd_double_bus_start(const char *dir, pid_t *ret_pid, char **ret_address) {
        char listen[512];
        snprintf(listen, sizeof listen, "--address=unix:path=%s/bus.sock", dir);
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent || dup2(p[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execlp("dbus-daemon", "dbus-daemon", "--session", listen, "--nofork",
                       "--print-address=1", (char *) NULL);
                _exit(127);
        }
        close(p[1]);

        /* The address line means the socket is listening. */
        char line[1024];
        size_t len = 0;
        int r = -ETIMEDOUT;
        int64_t deadline = s_now_ms() + 10000;
        while (len < sizeof line - 1) {
                int64_t left = deadline - s_now_ms();
                struct pollfd pfd = { .fd = p[0], .events = POLLIN };
                if (left <= 0 || poll(&pfd, 1, (int) left) <= 0)
                        break;
                ssize_t n = read(p[0], line + len, sizeof line - 1 - len);
                if (n <= 0) {
                        r = -EIO;
                        break;
                }
                len += (size_t) n;
                char *nl = memchr(line, '\n', len);
                if (nl) {
                        *nl = '\0';
                        r = 0;
                        break;
                }
        }
        close(p[0]);
        if (r == 0 && !(*ret_address = strdup(line)))
                r = -ENOMEM;
        if (r < 0) {
                systemd_double_stop(pid);
                return r;
        }
        *ret_pid = pid;
        return 0;
}

void systemd_double_stop(pid_t pid) {
        if (pid <= 0)
                return;
        (void) kill(pid, SIGTERM);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}
