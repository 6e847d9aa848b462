/* Health checks: is this node fit to serve (before a drain, after an
 * upgrade)?
 *
 * The checks come from the agent's own configuration (agent_config.h), so
 * the coordinator can only ask for a verdict, never choose what runs. Each
 * check is bounded by its timeout_ms (default 2000 ms); checks run one
 * after another, so a report takes at most the sum of their timeouts (plus
 * name resolution, which getaddrinfo does not let us bound).
 *
 * Verdict: healthy when every check passes (or there are none), unhealthy
 * when a critical check fails, degraded when only non-critical ones fail. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent_config.h"
#include "common/attrs.h"
#include "proto/hitless.pb-c.h"

typedef enum {
        HEALTH_STATE_UNKNOWN,
        HEALTH_STATE_HEALTHY,
        HEALTH_STATE_DEGRADED,
        HEALTH_STATE_UNHEALTHY,
} health_state_t;

typedef struct {
        char name[64];
        check_kind_t kind;
        bool critical;
        bool ok;
        char detail[256];       /* one line for humans: why it passed or failed */
        uint32_t duration_ms;
} check_outcome_t;

typedef struct {
        health_state_t state;
        check_outcome_t *checks;   /* owned, n_checks entries */
        size_t n_checks;
} health_report_t;

/* Runs every check in order and fills *ret (free with health_report_free).
 * A failing check is a result, not an error: returns 0, or -ENOMEM.
 * system_bus_address: NULL for the system bus (unit checks only). */
HL_MUST_USE int health_run(const check_config_t *checks, size_t n, const char *system_bus_address,
                           health_report_t *ret);

void health_report_free(health_report_t *r);

/* The verdict for a set of outcomes (see the top of this file). */
health_state_t health_aggregate(const check_outcome_t *outcomes, size_t n);

/* "healthy", "degraded", "unhealthy", "unknown". */
const char *health_state_name(health_state_t s);

/* ---- internal: one function per check kind (check_<kind>.c) -------------
 *
 * Each fills out->ok and out->detail (the caller fills name, kind,
 * critical and duration) and returns 0 when the check passed, or the
 * reason it failed as -errno (-ETIMEDOUT, -ECONNREFUSED, -ENOENT for a
 * missing unit or program, -ESRCH for a unit that is not active, -EPROTO
 * for a malformed HTTP reply, -EIO for a non-2xx status, a missing expect
 * string or a non-zero exit, ...). */

#define CHECK_DEFAULT_TIMEOUT_MS 2000

HL_MUST_USE int check_unit_run(const check_config_t *c, const char *bus_address, check_outcome_t *out);
HL_MUST_USE int check_tcp_run(const check_config_t *c, check_outcome_t *out);
HL_MUST_USE int check_exec_run(const check_config_t *c, check_outcome_t *out);
HL_MUST_USE int check_http_run(const check_config_t *c, check_outcome_t *out);

/* Connects to host:port (any address getaddrinfo gives, in order) before
 * deadline_ms (clock_mono_ms). Returns 0 with *ret_fd a connected,
 * non-blocking, close-on-exec socket, or -errno (-ETIMEDOUT, the last
 * connect error, or -EHOSTUNREACH when the name does not resolve; errbuf
 * then says why in words). Shared by the tcp and http checks. */
HL_MUST_USE int check_tcp_connect(const char *host, long long port, int64_t deadline_ms, int *ret_fd,
                                  char *errbuf, size_t errlen);

/* The timeout a check runs with: its own, or the default if unset. */
static inline int64_t check_timeout_ms(const check_config_t *c) {
        return c->timeout_ms > 0 ? c->timeout_ms : CHECK_DEFAULT_TIMEOUT_MS;
}

/* The wire's HealthState for a health_state_t, and back. */
Hitless__HealthState health_state_to_wire(health_state_t s);
health_state_t health_state_from_wire(Hitless__HealthState s);
