#include "agent/node_probe.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/endpoints_now.h"
#include "agent/pkg_backend.h"
#include "common/codec.h"
#include "common/log.h"

struct node_probe {
        const agent_config_t *cfg;
        const pkg_backend_t *backend;   /* NULL: no package versions to report */
        int64_t interval_ms;
        pthread_t thread;
        bool have_thread;
        pthread_mutex_t lock;           /* guards everything below */
        pthread_cond_t wake;            /* on CLOCK_MONOTONIC */
        bool stop;
        uint64_t epoch;                 /* bumped by every change */
        uint64_t latest_epoch;          /* the epoch the latest round began in */
        uint8_t *latest;                /* that round, a packed HealthReport */
        size_t latest_len;
};

/* Package versions as protobuf; versions[] must outlive the items. */
static Hitless__PackageVersion **s_packages(const node_probe_t *p, char ***ret_versions, size_t *ret_n) {
        size_t n = conf_strv_len(p->cfg->packages);
        pkg_env_t env = { .root = p->cfg->package_root, .dpkg_admindir = p->cfg->dpkg_admindir };
        Hitless__PackageVersion **v, *items;
        char **versions = NULL;

        *ret_n = 0;
        *ret_versions = NULL;
        if (n == 0 || !p->backend || p->backend->query(&env, p->cfg->packages, n, &versions) < 0)
                return NULL;
        v = calloc(n, sizeof *v);
        items = calloc(n, sizeof *items);
        if (!v || !items) {
                free(v);
                free(items);
                pkg_versions_free(versions, n);
                return NULL;
        }
        for (size_t i = 0; i < n; i++) {
                hitless__package_version__init(&items[i]);
                items[i].name = p->cfg->packages[i];
                items[i].version = versions[i];
                v[i] = &items[i];
        }
        *ret_versions = versions;
        *ret_n = n;
        return v;
}

/* One round: checks, packages, endpoints, packed into *ret. */
static int s_round(const node_probe_t *p, uint8_t **ret, size_t *ret_len) {
        Hitless__HealthReport rep = HITLESS__HEALTH_REPORT__INIT;
        Hitless__CheckResult *items = NULL, **checks = NULL;
        Hitless__EndpointList **eps = NULL;
        health_report_t hr;
        char **versions;
        size_t n_versions;
        int r, n_eps;

        r = health_run(p->cfg->checks, p->cfg->n_checks, p->cfg->system_bus_address, &hr);
        if (r < 0)
                return r;
        if (hr.n_checks) {
                items = calloc(hr.n_checks, sizeof *items);
                checks = calloc(hr.n_checks, sizeof *checks);
        }
        for (size_t i = 0; items && checks && i < hr.n_checks; i++) {
                hitless__check_result__init(&items[i]);
                items[i].name = hr.checks[i].name;
                items[i].kind = (char *) check_kind_name(hr.checks[i].kind);
                items[i].ok = hr.checks[i].ok;
                items[i].detail = hr.checks[i].detail;
                items[i].duration_ms = hr.checks[i].duration_ms;
                checks[i] = &items[i];
        }
        rep.state = health_state_to_wire(hr.state);
        rep.n_checks = (items && checks) ? hr.n_checks : 0;
        rep.checks = checks;
        rep.packages = s_packages(p, &versions, &n_versions);
        rep.n_packages = rep.packages ? n_versions : 0;
        n_eps = endpoints_now_read(p->cfg, &eps);
        rep.endpoints = eps;
        rep.n_endpoints = n_eps > 0 ? (size_t) n_eps : 0;

        r = codec_encode(&rep.base, ret, ret_len);

        if (rep.packages)
                free(rep.packages[0]);   /* the items array */
        free(rep.packages);
        pkg_versions_free(versions, n_versions);
        endpoints_now_free(eps, rep.n_endpoints);
        free(items);
        free(checks);
        health_report_free(&hr);
        return r;
}

/* Runs a round begun in epoch and keeps it as the latest. */
static void s_measure(node_probe_t *p, uint64_t epoch) {
        uint8_t *buf;
        size_t len;
        int r = s_round(p, &buf, &len);
        if (r < 0) {
                log_warning("cannot measure the node's health: %s", strerror(-r));
                return;
        }
        pthread_mutex_lock(&p->lock);
        free(p->latest);
        p->latest = buf;
        p->latest_len = len;
        p->latest_epoch = epoch;
        pthread_mutex_unlock(&p->lock);
}

static void s_deadline(struct timespec *ts, int64_t ms) {
        clock_gettime(CLOCK_MONOTONIC, ts);
        ts->tv_sec += ms / 1000;
        ts->tv_nsec += (ms % 1000) * 1000000L;
        if (ts->tv_nsec >= 1000000000L) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000L;
        }
}

static void *s_thread(void *arg) {
        node_probe_t *p = arg;
        uint64_t tried = 0;   /* the epoch of the last round tried (node_probe_new's) */
        pthread_mutex_lock(&p->lock);
        while (!p->stop) {
                /* Sleep an interval, or until a change makes the latest
                 * stale (a round that failed waits its interval). */
                struct timespec until;
                s_deadline(&until, p->interval_ms);
                while (!p->stop && tried == p->epoch &&
                       pthread_cond_timedwait(&p->wake, &p->lock, &until) == 0)
                        ;
                if (p->stop)
                        break;
                tried = p->epoch;
                pthread_mutex_unlock(&p->lock);
                s_measure(p, tried);
                pthread_mutex_lock(&p->lock);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

int node_probe_new(const agent_config_t *cfg, int64_t interval_ms, node_probe_t **ret) {
        node_probe_t *p = calloc(1, sizeof *p);
        pthread_condattr_t attr;
        int r;

        if (!p)
                return -ENOMEM;
        p->cfg = cfg;
        p->interval_ms = interval_ms > 0 ? interval_ms : 1000;
        if (pkg_backend_resolve(cfg->package_backend, &p->backend) < 0)
                p->backend = NULL;
        pthread_mutex_init(&p->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&p->wake, &attr);
        pthread_condattr_destroy(&attr);
        s_measure(p, 0);
        r = pthread_create(&p->thread, NULL, s_thread, p);
        if (r != 0) {
                node_probe_destroy(&p);
                return -r;
        }
        p->have_thread = true;
        *ret = p;
        return 0;
}

void node_probe_destroy(node_probe_t **pp) {
        node_probe_t *p = *pp;
        if (!p)
                return;
        if (p->have_thread) {
                pthread_mutex_lock(&p->lock);
                p->stop = true;
                pthread_cond_signal(&p->wake);
                pthread_mutex_unlock(&p->lock);
                pthread_join(p->thread, NULL);
        }
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p->latest);
        free(p);
        *pp = NULL;
}

Hitless__HealthReport *node_probe_report(node_probe_t *p, bool *ret_fresh) {
        Hitless__HealthReport *rep;
        pthread_mutex_lock(&p->lock);
        *ret_fresh = p->latest && p->latest_epoch == p->epoch;
        /* No round yet (the first failed): an empty report, health unknown. */
        rep = p->latest ? hitless__health_report__unpack(NULL, p->latest_len, p->latest)
                        : hitless__health_report__unpack(NULL, 0, (const uint8_t *) "");
        pthread_mutex_unlock(&p->lock);
        return rep;
}

void node_probe_invalidate(node_probe_t *p) {
        pthread_mutex_lock(&p->lock);
        p->epoch++;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
}
