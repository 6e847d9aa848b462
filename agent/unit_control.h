/* systemd units through sd-bus (org.freedesktop.systemd1): the agent's
 * only way to restart services. bus_address NULL means the system bus;
 * tests pass a private bus with a systemd double. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Restarts unit (RestartUnit, mode "replace"), waits for its job's
 * JobRemoved signal and result, then for ActiveState "active", all within
 * timeout_ms. Errors (error gets a line saying why):
 *   -ENOENT     no such unit
 *   -ETIMEDOUT  the job or activation did not finish in time
 *   -EIO        the job ended with a result other than "done", or the unit
 *               failed to become active (its state is named)
 *   -ECONNREFUSED / other -errno: the bus could not be reached */
int unit_restart(const char *bus_address, const char *unit, int64_t timeout_ms,
                 char *error, size_t error_len);

/* The unit's ActiveState ("active", "inactive", "failed", ...). -ENOENT for
 * a unit that does not exist. */
int unit_active_state(const char *bus_address, const char *unit, char *ret_state, size_t len);
