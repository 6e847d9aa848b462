/* A stand-in for systemd on a private D-Bus, for tests of the unit check
 * (and anything else that asks systemd whether a unit is active).
 *
 * It serves only what hitless asks: Manager.GetUnit (NoSuchUnit for units
 * it does not know, as systemd does for unloaded units), Manager.LoadUnit
 * (a "not-found" unit object for unknown names, as systemd does), and the
 * Unit properties Id, LoadState and ActiveState. Object paths use systemd's
 * escaping (sd_bus_path_encode under /org/freedesktop/systemd1/unit).
 *
 * Typical use: systemd_double_bus_start() a private dbus-daemon, then
 * systemd_double_spawn() the double in a child; kill both by pid at the
 * end. Both children get PR_SET_PDEATHSIG so a failed test leaves nothing
 * behind. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

/* Claims org.freedesktop.systemd1 on bus_address and serves until the bus
 * goes away. Units in neither list are unknown. Returns -errno on failure
 * (never returns while serving). Meant to run in a forked child. */
int systemd_double_run(const char *bus_address, const char *const *active_units,
                       const char *const *inactive_units);

/* Waits until org.freedesktop.systemd1 has an owner on bus_address:
 * 0, -ETIMEDOUT, or -errno. */
int systemd_double_wait_ready(const char *bus_address, int64_t timeout_ms);

/* Forks a child running systemd_double_run() and waits until it is ready.
 * Returns 0 with *ret_pid, or -errno (the child is killed and reaped). */
int systemd_double_spawn(const char *bus_address, const char *const *active_units,
                         const char *const *inactive_units, pid_t *ret_pid);

/* Starts `dbus-daemon --session` listening on DIR/bus.sock and waits until
 * it printed its address. Returns 0 with *ret_pid and *ret_address
 * (malloc'd), or -errno. */
int systemd_double_bus_start(const char *dir, pid_t *ret_pid, char **ret_address);

/* SIGTERM to pid and reap it (a no-op for pid <= 0). */
void systemd_double_stop(pid_t pid);
