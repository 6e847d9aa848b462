/* The coordinator's per-heartbeat cost at fleet scale: 10,000 nodes
 * register, then 200,000 heartbeats (decode + fleet_heartbeat) arrive in
 * random node order; then one flush of every node to the store and one
 * expiry sweep. Prints figures; asserts nothing about speed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/log.h"
#include "coordinator/fleet/fleet.h"
#include "coordinator/store/store.h"

#define NODES 10000
#define HEARTBEATS 200000

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* A realistic heartbeat: three checks, two packages. */
static int encode_heartbeat(uint8_t **buf, size_t *len) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__Heartbeat hb = HITLESS__HEARTBEAT__INIT;
        Hitless__HealthReport h = HITLESS__HEALTH_REPORT__INIT;
        Hitless__CheckResult c[3], *cp[3];
        Hitless__PackageVersion p[2], *pp[2];
        static const char *const names[] = { "vrouter", "xmpp", "introspect" };
        for (int i = 0; i < 3; i++) {
                hitless__check_result__init(&c[i]);
                c[i].name = (char *) names[i];
                c[i].kind = "tcp";
                c[i].ok = true;
                c[i].detail = "connected";
                cp[i] = &c[i];
        }
        for (int i = 0; i < 2; i++) {
                hitless__package_version__init(&p[i]);
                p[i].name = i ? "contrail-lib" : "contrail-vrouter-agent";
                p[i].version = "2.0-1";
                pp[i] = &p[i];
        }
        h.state = HITLESS__HEALTH_STATE__HEALTH_HEALTHY;
        h.n_checks = 3;
        h.checks = cp;
        h.n_packages = 2;
        h.packages = pp;
        hb.seq = 1;
        hb.health = &h;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__AGENT_MESSAGE__BODY_HEARTBEAT;
        m.heartbeat = &hb;
        return codec_encode(&m.base, buf, len);
}

int main(void) {
        char dir[] = "/tmp/hitless-bench-fleet.XXXXXX", path[256];
        static node_t *nodes[NODES];
        store_t *store;
        fleet_t *fleet;
        uint8_t *hb_buf;
        size_t hb_len;
        int64_t t = 1000000;
        double t0;

        log_set_max_level(LOG_ERR);  /* measure the work, not the terminal */
        if (!mkdtemp(dir))
                return 1;
        snprintf(path, sizeof path, "%s/bench.db", dir);
        if (store_open(path, &store) < 0 || fleet_new(store, 15000, &fleet) < 0 ||
            encode_heartbeat(&hb_buf, &hb_len) < 0)
                return 1;

        t0 = now_s();
        for (int i = 0; i < NODES; i++) {
                Hitless__Hello h = HITLESS__HELLO__INIT;
                char id[32];
                char *roles[] = { "compute" };
                snprintf(id, sizeof id, "compute%05d", i);
                h.node_id = id;
                h.hostname = id;
                h.n_roles = 1;
                h.roles = roles;
                h.agent_version = "0.1.0";
                h.boot_id = "5df1a699-2cf0-4d9e-b3a9-ccd71f149063";
                if (fleet_register(fleet, id, &h, "10.0.0.1", t, &nodes[i]) < 0)
                        return 1;
        }
        printf("register %d nodes:            %.3f s (%.1f us/node, events included)\n", NODES,
               now_s() - t0, (now_s() - t0) * 1e6 / NODES);
        t0 = now_s();
        if (fleet_flush(fleet) < 0)
                return 1;
        printf("flush %d new nodes:           %.3f s\n", NODES, now_s() - t0);

        srandom(42);
        t0 = now_s();
        for (int i = 0; i < HEARTBEATS; i++) {
                Hitless__AgentMessage *m;
                if (codec_decode_agent(hb_buf, hb_len, HITLESS_MAX_MESSAGE_BYTES, &m) < 0)
                        return 1;
                fleet_heartbeat(fleet, nodes[random() % NODES], m->heartbeat, ++t);
                hitless__agent_message__free_unpacked(m, NULL);
        }
        double per = (now_s() - t0) / HEARTBEATS;
        printf("heartbeat (%zu B) decode+apply: %.2f us each, %.0f/s on one core\n", hb_len, per * 1e6,
               1 / per);
        printf("  = %.1f%% of a core for %d nodes at one heartbeat / 5 s\n",
               100.0 * per * NODES / 5.0, NODES);
        t0 = now_s();
        if (fleet_flush(fleet) < 0)
                return 1;
        printf("flush %d changed nodes:       %.3f s (once a second at most)\n", NODES, now_s() - t0);
        t0 = now_s();
        int expired = fleet_expire(fleet, t + 15001);
        printf("expire sweep, all %d stale:   %.3f s (%d marked)\n", NODES, now_s() - t0, expired);
        t0 = now_s();
        if (fleet_flush(fleet) < 0)
                return 1;
        printf("flush after that sweep:       %.3f s (%d nodes and their events, one transaction)\n",
               now_s() - t0, NODES);
        t0 = now_s();
        expired = fleet_expire(fleet, t + 15002);
        printf("expire sweep, none stale:     %.6f s (%d marked; looks at the list head only)\n",
               now_s() - t0, expired);

        free(hb_buf);
        fleet_destroy(&fleet);
        store_close(&store);
        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        return system(path) == 0 ? 0 : 1;
}
