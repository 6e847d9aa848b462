/* A stand-in for systemd on a private D-Bus, for tests of the unit check
 * and of unit control (agent/unit_control: restart a unit, ask its state).
 *
 * It serves only what hitless asks: Manager.GetUnit (NoSuchUnit for units
 * it does not know, as systemd does for unloaded units), Manager.LoadUnit
 * (a "not-found" unit object for unknown names, as systemd does),
 * Manager.Subscribe/Unsubscribe, Manager.RestartUnit and StartUnit (the
 * same job here), StopUnit (a job that ends with the unit "inactive";
 * mode "replace" only for all three;
 * NoSuchUnit for unknown units, as systemd says "Unit X not found."), the
 * Manager.JobRemoved(id, job, unit, result) signal, and the Unit
 * properties Id, LoadState and ActiveState. Object paths use systemd's
 * escaping (sd_bus_path_encode under /org/freedesktop/systemd1/unit); jobs
 * are /org/freedesktop/systemd1/job/N.
 *
 * Like systemd, it sends job signals only while some client is subscribed
 * (a client that forgets Subscribe never hears JobRemoved), and keeps each
 * unit's state across calls (a restarted unit stays restarted).
 *
 * Typical use: systemd_double_bus_start() a private dbus-daemon, then
 * systemd_double_spawn() (or _spawn_units()) the double in a child; kill
 * both by pid at the end. Both children get PR_SET_PDEATHSIG so a failed
 * test leaves nothing behind. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One unit the double knows, and what a RestartUnit of it does. */
typedef struct {
        const char *name;
        const char *state;              /* ActiveState until restarted; NULL: "inactive" */
        /* RestartUnit makes the unit "activating" and starts a job that
         * ends job_ms later: the unit goes to state_after_job (NULL:
         * "active") and JobRemoved carries job_result. job_ms 0 sends the
         * signal before the method reply (the earliest a client can get
         * it). job_result NULL: the job never ends, no signal. */
        const char *job_result;
        int64_t job_ms;
        const char *state_after_job;
        /* settle_ms after the job ended, the unit moves on to
         * settled_state (NULL: it stays). */
        int64_t settle_ms;
        const char *settled_state;
        /* Not NULL: right before the job's own JobRemoved, one for another
         * job of the same unit with this result (someone else's job). */
        const char *other_job_result;
} systemd_double_unit_t;

/* Claims org.freedesktop.systemd1 on bus_address and serves units (n of
 * them; the array must outlive the call) until the bus goes away. Returns
 * -errno on failure (never returns while serving). Meant to run in a
 * forked child. */
int systemd_double_run_units(const char *bus_address, const systemd_double_unit_t *units, size_t n);

/* Forks a child running systemd_double_run_units() and waits until it is
 * ready. Returns 0 with *ret_pid, or -errno (the child is killed and
 * reaped). */
int systemd_double_spawn_units(const char *bus_address, const systemd_double_unit_t *units,
                               size_t n, pid_t *ret_pid);

/* The simple form of _run_units() and _spawn_units(): units in
 * active_units are "active", in inactive_units "inactive", all others
 * unknown; restarting one gives a "done" job and an active unit. */
int systemd_double_run(const char *bus_address, const char *const *active_units,
                       const char *const *inactive_units);
int systemd_double_spawn(const char *bus_address, const char *const *active_units,
                         const char *const *inactive_units, pid_t *ret_pid);

/* Waits until org.freedesktop.systemd1 has an owner on bus_address:
 * 0, -ETIMEDOUT, or -errno. */
int systemd_double_wait_ready(const char *bus_address, int64_t timeout_ms);

/* Starts `dbus-daemon --session` listening on DIR/bus.sock and waits until
 * it printed its address. Returns 0 with *ret_pid and *ret_address
 * (malloc'd), or -errno. */
int systemd_double_bus_start(const char *dir, pid_t *ret_pid, char **ret_address);

/* SIGTERM to pid and reap it (a no-op for pid <= 0). */
void systemd_double_stop(pid_t pid);
