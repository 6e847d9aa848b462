#include "tests/helpers/systemd_double.h"

#include <errno.h>
#include <fcntl.h>
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
#define SYSTEMD_UNIT_PATH "/org/freedesktop/systemd1/unit"

typedef struct {
        const char *const *active;
        const char *const *inactive;
} double_units_t;

static bool s_in(const char *const *list, const char *name) {
        for (; list && *list; list++)
                if (strcmp(*list, name) == 0)
                        return true;
        return false;
}

/* "active", "inactive", or NULL for a unit the double does not know. */
static const char *s_active_state(const double_units_t *u, const char *name) {
        if (s_in(u->active, name))
                return "active";
        if (s_in(u->inactive, name))
                return "inactive";
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

static int s_get_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *name;
        int r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        if (!s_active_state(userdata, name))
                return sd_bus_error_setf(error, "org.freedesktop.systemd1.NoSuchUnit",
                                         "Unit %s not loaded.", name);
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
        const char *state = s_active_state(userdata, name);
        const char *value = name;
        if (strcmp(property, "LoadState") == 0)
                value = state ? "loaded" : "not-found";
        else if (strcmp(property, "ActiveState") == 0)
                value = state ? state : "inactive";
        r = sd_bus_message_append(reply, "s", value);
        free(name);
        return r;
}

static const sd_bus_vtable s_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("GetUnit", "s", "o", s_get_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("LoadUnit", "s", "o", s_load_unit, SD_BUS_VTABLE_UNPRIVILEGED),
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

int systemd_double_run(const char *bus_address, const char *const *active_units,
                       const char *const *inactive_units) {
        double_units_t units = { .active = active_units, .inactive = inactive_units };
        sd_bus *bus = NULL;
        int r = s_connect(bus_address, &bus);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus, NULL, SYSTEMD_PATH, SYSTEMD_SERVICE ".Manager",
                                     s_manager_vtable, &units);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, SYSTEMD_UNIT_PATH, SYSTEMD_SERVICE ".Unit",
                                               s_unit_vtable, NULL, &units);
        if (r >= 0)
                r = sd_bus_request_name(bus, SYSTEMD_SERVICE, 0);
        while (r >= 0) {
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(bus, UINT64_MAX);
        }
        sd_bus_flush_close_unref(bus);
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

static int64_t s_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

int systemd_double_spawn(const char *bus_address, const char *const *active_units,
                         const char *const *inactive_units, pid_t *ret_pid) {
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
                _exit(systemd_double_run(bus_address, active_units, inactive_units) < 0 ? 1 : 0);
        }
        int r = systemd_double_wait_ready(bus_address, 10000);
        if (r < 0) {
                systemd_double_stop(pid);
                return r;
        }
        *ret_pid = pid;
        return 0;
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
