/* systemd units through sd-bus (org.freedesktop.systemd1): the agent's
 * only way to restart services. bus_address NULL means the system bus;
 * tests pass a private bus with a systemd double, and the integration test
 * a container's bus (unix:path=/proc/PID/root/run/dbus/system_bus_socket).
 *
 * -ENOENT always means "no such unit": a bus socket that does not exist
 * (connect() says ENOENT too) is reported as -ECONNREFUSED, so a caller can
 * never mistake an unreachable systemd for a unit that is not installed. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/attrs.h"

/* Restarts unit (RestartUnit, mode "replace"), waits for its job's
 * JobRemoved signal and result, then for ActiveState "active", all within
 * timeout_ms. "active" is what systemd says at that moment: for a
 * Type=simple service that is right after the fork, so a service that dies
 * a moment later may still pass (Type=notify/exec/oneshot units make the
 * job itself wait). Errors (error, if not NULL, gets a line saying why):
 *   -EINVAL     no unit name, or timeout_ms <= 0
 *   -ENOENT     no such unit ("unit X not found")
 *   -ETIMEDOUT  the job or activation did not finish in time
 *   -EIO        the job ended with a result other than "done" (the result
 *               is named: failed, timeout, canceled, dependency, skipped,
 *               ...), or the unit ended up failed/inactive (its state is
 *               named)
 *   -ECONNREFUSED / other -errno: the bus could not be reached, or systemd
 *               refused the call (e.g. a masked unit; systemd's message is
 *               in error) */
HL_MUST_USE int unit_restart(const char *bus_address, const char *unit, int64_t timeout_ms,
                             char *error, size_t error_len);

/* StartUnit, as unit_restart does RestartUnit: waits for the job, then
 * for "active"; the same errors. Starting an active unit is a job that
 * ends "done" at once. */
HL_MUST_USE int unit_start(const char *bus_address, const char *unit, int64_t timeout_ms,
                           char *error, size_t error_len);

/* StopUnit: waits for the job, then for ActiveState "inactive" (or
 * "failed": a service that exits non-zero on SIGTERM is stopped too); the
 * same errors, -EIO for a job result other than "done". */
HL_MUST_USE int unit_stop(const char *bus_address, const char *unit, int64_t timeout_ms,
                          char *error, size_t error_len);

/* The unit's ActiveState ("active", "inactive", "failed", ...) into
 * ret_state (len bytes; -ENOBUFS if it does not fit; set only on success).
 * -ENOENT for a unit that does not exist. Bounded by sd-bus's default
 * method-call timeout (25 s). */
HL_MUST_USE int unit_active_state(const char *bus_address, const char *unit, char *ret_state, size_t len);

/* unit_active_state() bounded by timeout_ms (> 0), with a line in error (if
 * not NULL) saying why it failed: "cannot connect to ADDRESS: ...",
 * "unit X not found", or "unit X: <systemd's message>". */
HL_MUST_USE int unit_active_state_timed(const char *bus_address, const char *unit, int64_t timeout_ms,
                                        char *ret_state, size_t len, char *error, size_t error_len);
