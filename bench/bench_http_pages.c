/* What one build of the HTTP pages costs at fleet scale (the work the
 * poll loop does at most once a second per page, see http_server.h): a
 * status of 10,000 upgrade nodes in 4 phases rendered as /api/status
 * (upgrade_status_json) and, with 10,000 NodeInfos, as /metrics
 * (metrics_write). Prints figures; asserts nothing about speed. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/upgrade_json.h"
#include "coordinator/http/metrics.h"

#define NODES 10000
#define PHASES 4
#define ROUNDS 20

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int main(void) {
        static Hitless__UpgradeNodeStatus un[NODES];
        static Hitless__UpgradeNodeStatus *unp[NODES];
        static Hitless__NodeInfo ni[NODES];
        static Hitless__NodeInfo *nip[NODES];
        static Hitless__HealthReport hr[NODES];
        static char ids[NODES][16];
        static const char *const steps[] = { "pending", "installing", "verifying", "done" };
        Hitless__UpgradePhaseStatus ph[PHASES], *php[PHASES];
        char pnames[PHASES][16];
        Hitless__UpgradeStatus st = HITLESS__UPGRADE_STATUS__INIT;
        Hitless__CoordinatorStatus cs = HITLESS__COORDINATOR_STATUS__INIT;

        for (int i = 0; i < PHASES; i++) {
                hitless__upgrade_phase_status__init(&ph[i]);
                snprintf(pnames[i], sizeof pnames[i], "phase%d", i);
                ph[i].name = pnames[i];
                ph[i].state = "running";
                ph[i].nodes = NODES / PHASES;
                php[i] = &ph[i];
        }
        for (int i = 0; i < NODES; i++) {
                snprintf(ids[i], sizeof ids[i], "node%05d", i);
                hitless__upgrade_node_status__init(&un[i]);
                un[i].node_id = ids[i];
                un[i].phase = pnames[i % PHASES];
                un[i].step = (char *) steps[i % 4];
                un[i].command = i % 4 == 1 ? "install" : "";
                un[i].waiting = i % 4 == 0 ? "batch: 2 of 2 in flight" : "";
                un[i].reachable = un[i].healthy = true;
                unp[i] = &un[i];
                hitless__node_info__init(&ni[i]);
                hitless__health_report__init(&hr[i]);
                hr[i].state = HITLESS__HEALTH_STATE__HEALTH_HEALTHY;
                ni[i].node_id = ids[i];
                ni[i].health = &hr[i];
                ni[i].state = "online";
                nip[i] = &ni[i];
        }
        st.upgrade_id = "up-1";
        st.plan_name = "bench";
        st.state = "running";
        st.n_phases = PHASES;
        st.phases = php;
        st.n_nodes = NODES;
        st.nodes = unp;
        cs.version = "bench";
        metrics_input_t in = { .coordinator = &cs, .upgrade = &st, .nodes = nip, .n_nodes = NODES };

        for (int page = 0; page < 2; page++) {
                size_t bytes = 0;
                double t0 = now_s();
                for (int r = 0; r < ROUNDS; r++) {
                        char *buf = NULL;
                        size_t len = 0;
                        FILE *f = open_memstream(&buf, &len);
                        if (!f)
                                return 1;
                        if (page == 0)
                                upgrade_status_json(f, &st);
                        else if (metrics_write(f, &in) < 0)
                                return 1;
                        fclose(f);
                        bytes = len;
                        free(buf);
                }
                double each = (now_s() - t0) / ROUNDS;
                printf("%-12s %d nodes: %.1f ms per build, %zu bytes\n", page == 0 ? "/api/status" : "/metrics",
                       NODES, each * 1e3, bytes);
        }
        return 0;
}
