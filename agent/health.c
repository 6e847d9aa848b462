#include "agent/health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

static void s_run_one(const check_config_t *c, const char *bus_address, check_outcome_t *out) {
        *out = (check_outcome_t) { .kind = c->kind, .critical = c->critical };
        snprintf(out->name, sizeof out->name, "%s", c->name ? c->name : "(unnamed)");

        int64_t start = clock_mono_ms();
        switch (c->kind) {
        case CHECK_UNIT:
                (void) check_unit_run(c, bus_address, out);
                break;
        case CHECK_TCP:
                (void) check_tcp_run(c, out);
                break;
        case CHECK_EXEC:
                (void) check_exec_run(c, out);
                break;
        case CHECK_HTTP:
                (void) check_http_run(c, out);
                break;
        default:
                out->ok = false;
                snprintf(out->detail, sizeof out->detail, "unknown check kind %d", (int) c->kind);
                break;
        }
        int64_t elapsed = clock_mono_ms() - start;
        out->duration_ms = elapsed < 0 ? 0 : elapsed > UINT32_MAX ? UINT32_MAX : (uint32_t) elapsed;
}

int health_run(const check_config_t *checks, size_t n, const char *system_bus_address,
               health_report_t *ret) {
        check_outcome_t *outcomes = NULL;
        if (n > 0) {
                outcomes = calloc(n, sizeof *outcomes);
                if (!outcomes)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                s_run_one(&checks[i], system_bus_address, &outcomes[i]);

        *ret = (health_report_t) {
                .state = health_aggregate(outcomes, n),
                .checks = outcomes,
                .n_checks = n,
        };
        return 0;
}

void health_report_free(health_report_t *r) {
        if (!r)
                return;
        free(r->checks);
        *r = (health_report_t) { .state = HEALTH_STATE_UNKNOWN };
}

health_state_t health_aggregate(const check_outcome_t *outcomes, size_t n) {
        health_state_t state = HEALTH_STATE_HEALTHY;
        for (size_t i = 0; i < n; i++) {
                if (outcomes[i].ok)
                        continue;
                if (outcomes[i].critical)
                        return HEALTH_STATE_UNHEALTHY;
                state = HEALTH_STATE_DEGRADED;
        }
        return state;
}

const char *health_state_name(health_state_t s) {
        switch (s) {
        case HEALTH_STATE_HEALTHY:
                return "healthy";
        case HEALTH_STATE_DEGRADED:
                return "degraded";
        case HEALTH_STATE_UNHEALTHY:
                return "unhealthy";
        default:
                return "unknown";
        }
}

health_state_t health_state_from_wire(Hitless__HealthState s) {
        switch (s) {
        case HITLESS__HEALTH_STATE__HEALTH_HEALTHY: return HEALTH_STATE_HEALTHY;
        case HITLESS__HEALTH_STATE__HEALTH_DEGRADED: return HEALTH_STATE_DEGRADED;
        case HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY: return HEALTH_STATE_UNHEALTHY;
        default: return HEALTH_STATE_UNKNOWN;
        }
}

Hitless__HealthState health_state_to_wire(health_state_t s) {
        switch (s) {
        case HEALTH_STATE_HEALTHY: return HITLESS__HEALTH_STATE__HEALTH_HEALTHY;
        case HEALTH_STATE_DEGRADED: return HITLESS__HEALTH_STATE__HEALTH_DEGRADED;
        case HEALTH_STATE_UNHEALTHY: return HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY;
        default: return HITLESS__HEALTH_STATE__HEALTH_UNKNOWN;
        }
}
