/* coordinator/http/metrics and http_listen: the Prometheus exposition of
 * a coordinator's status, rendered into memory and read back line by line
 * (each sample's exact text), and the http_listen syntax with its
 * loopback rule. promtool's own check of the exposition runs in the
 * integration test (tests/integration/97-http.sh) against a real
 * coordinator. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/http/http_listen.h"
#include "coordinator/http/metrics.h"
#include "tests/helpers/check_run.h"

/* A coordinator with three nodes (one unreachable), an upgrade of one
 * phase with one node done and one installing, and one quorum group. */
typedef struct {
        Hitless__CoordinatorStatus cs;
        Hitless__StoreHealth store;
        Hitless__Counter drop[2], hs[3];
        Hitless__Counter *dropp[2], *hsp[3];
        Hitless__NodeInfo node[3];
        Hitless__NodeInfo *nodep[3];
        Hitless__HealthReport health[3];
        Hitless__UpgradeStatus up;
        Hitless__UpgradeCondition cond[2];
        Hitless__UpgradeCondition *condp[2];
        Hitless__UpgradePhaseStatus phase;
        Hitless__UpgradePhaseStatus *phasep[1];
        Hitless__UpgradeNodeStatus un[3];
        Hitless__UpgradeNodeStatus *unp[3];
        metrics_group_t group;
        metrics_input_t in;
} fixture_t;

static void fixture(fixture_t *x) {
        static const char *const ids[] = { "c1", "c2", "db1" };
        memset(x, 0, sizeof *x);
        hitless__coordinator_status__init(&x->cs);
        hitless__store_health__init(&x->store);
        x->store.free_bytes = 1ULL << 30;
        x->store.floor_bytes = 64ULL << 20;
        x->cs.store = &x->store;
        x->cs.version = "1.2.3";
        x->cs.nodes = 3;
        x->cs.nodes_online = 2;
        x->cs.keys_accepted = 3;
        x->cs.keys_pending = 1;
        x->cs.messages_received = 1234;
        x->cs.started = 1700000000;
        const char *dn[] = { "too_large", "undecodable" };
        for (int i = 0; i < 2; i++) {
                hitless__counter__init(&x->drop[i]);
                x->drop[i].name = (char *) dn[i];
                x->drop[i].value = (uint64_t) i * 7;
                x->dropp[i] = &x->drop[i];
        }
        const char *hn[] = { "allowed", "denied", "malformed" };
        for (int i = 0; i < 3; i++) {
                hitless__counter__init(&x->hs[i]);
                x->hs[i].name = (char *) hn[i];
                x->hs[i].value = (uint64_t) (10 - i);
                x->hsp[i] = &x->hs[i];
        }
        x->cs.n_dropped = 2;
        x->cs.dropped = x->dropp;
        x->cs.n_handshakes = 3;
        x->cs.handshakes = x->hsp;
        for (int i = 0; i < 3; i++) {
                hitless__node_info__init(&x->node[i]);
                hitless__health_report__init(&x->health[i]);
                x->node[i].node_id = (char *) ids[i];
                x->node[i].health = &x->health[i];
                x->node[i].state = "online";
                x->health[i].state = HITLESS__HEALTH_STATE__HEALTH_HEALTHY;
                x->nodep[i] = &x->node[i];
        }
        x->health[1].state = HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY;
        /* Its last report said healthy; unreachable, that is unknown now. */
        x->node[2].state = "unreachable";

        hitless__upgrade_status__init(&x->up);
        x->up.upgrade_id = "up-1";
        x->up.plan_name = "contrail \"2.0\"";
        x->up.state = "running";
        x->up.started = 1700000100;
        const char *ct[] = { "Upgrading", "Error" };
        for (int i = 0; i < 2; i++) {
                hitless__upgrade_condition__init(&x->cond[i]);
                x->cond[i].type = (char *) ct[i];
                x->cond[i].status = i == 0;
                x->condp[i] = &x->cond[i];
        }
        x->up.n_conditions = 2;
        x->up.conditions = x->condp;
        hitless__upgrade_phase_status__init(&x->phase);
        x->phase.name = "computes";
        x->phase.nodes = 2;
        x->phase.done = 1;
        x->phase.in_flight = 1;
        x->phasep[0] = &x->phase;
        x->up.n_phases = 1;
        x->up.phases = x->phasep;
        const char *steps[] = { "done", "installing", "pending" };
        const char *cmds[] = { "", "install", "" };
        for (int i = 0; i < 3; i++) {
                hitless__upgrade_node_status__init(&x->un[i]);
                x->un[i].node_id = (char *) ids[i];
                x->un[i].step = (char *) steps[i];
                x->un[i].command = (char *) cmds[i];
                x->unp[i] = &x->un[i];
        }
        x->up.n_nodes = 3;
        x->up.nodes = x->unp;
        x->group = (metrics_group_t) { .name = "cassandra", .members = 3, .down = 1, .budget = 1 };
        x->in = (metrics_input_t) { .coordinator = &x->cs, .upgrade = &x->up, .nodes = x->nodep, .n_nodes = 3,
                                    .groups = &x->group, .n_groups = 1 };
}

static char *render(const metrics_input_t *in) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(metrics_write(f, in), 0);
        fclose(f);
        return buf;
}

/* line is one whole line of text. */
static bool has_line(const char *text, const char *line) {
        size_t n = strlen(line);
        for (const char *p = text; (p = strstr(p, line)); p++)
                if ((p == text || p[-1] == '\n') && p[n] == '\n')
                        return true;
        return false;
}

#define ck_assert_line(text, line) ck_assert_msg(has_line(text, line), "missing line: %s\n--- in:\n%s", line, text)

START_TEST(test_coordinator_and_nodes) {
        fixture_t x;
        fixture(&x);
        char *t = render(&x.in);
        ck_assert_line(t, "# TYPE hitless_build_info gauge");
        ck_assert_line(t, "hitless_build_info{version=\"1.2.3\"} 1");
        ck_assert_line(t, "hitless_coordinator_start_time_seconds 1700000000");
        ck_assert_line(t, "hitless_agents_connected 2");
        ck_assert_line(t, "hitless_keys{state=\"accepted\"} 3");
        ck_assert_line(t, "hitless_keys{state=\"pending\"} 1");
        ck_assert_line(t, "hitless_keys{state=\"rejected\"} 0");
        ck_assert_line(t, "# TYPE hitless_agent_messages_received_total counter");
        ck_assert_line(t, "hitless_agent_messages_received_total 1234");
        ck_assert_line(t, "hitless_agent_messages_dropped_total{reason=\"too_large\"} 0");
        ck_assert_line(t, "hitless_agent_messages_dropped_total{reason=\"undecodable\"} 7");
        ck_assert_line(t, "hitless_handshakes_total{verdict=\"allowed\"} 10");
        ck_assert_line(t, "hitless_handshakes_total{verdict=\"malformed\"} 8");
        ck_assert_line(t, "hitless_store_degraded 0");
        ck_assert_line(t, "hitless_store_free_bytes 1073741824");
        ck_assert_line(t, "hitless_store_floor_bytes 67108864");
        ck_assert_line(t, "hitless_nodes{state=\"online\"} 2");
        ck_assert_line(t, "hitless_nodes{state=\"unreachable\"} 1");
        /* db1 reported healthy last, but is unreachable: unknown. */
        ck_assert_line(t, "hitless_nodes_health{health=\"healthy\"} 1");
        ck_assert_line(t, "hitless_nodes_health{health=\"unhealthy\"} 1");
        ck_assert_line(t, "hitless_nodes_health{health=\"degraded\"} 0");
        ck_assert_line(t, "hitless_nodes_health{health=\"unknown\"} 1");
        free(t);
}
END_TEST

START_TEST(test_upgrade_and_groups) {
        fixture_t x;
        fixture(&x);
        char *t = render(&x.in);
        /* The plan's name has quotes: escaped, not cut. */
        ck_assert_line(t, "hitless_upgrade_info{upgrade_id=\"up-1\",plan=\"contrail \\\"2.0\\\"\",state=\"running\"} 1");
        ck_assert_line(t, "hitless_upgrade_start_time_seconds 1700000100");
        ck_assert_line(t, "hitless_upgrade_condition{type=\"Upgrading\"} 1");
        ck_assert_line(t, "hitless_upgrade_condition{type=\"Error\"} 0");
        ck_assert_line(t, "hitless_upgrade_phase_size_nodes{phase=\"computes\"} 2");
        ck_assert_line(t, "hitless_upgrade_phase_nodes{phase=\"computes\",progress=\"done\"} 1");
        ck_assert_line(t, "hitless_upgrade_phase_nodes{phase=\"computes\",progress=\"in_flight\"} 1");
        ck_assert_line(t, "hitless_upgrade_phase_nodes{phase=\"computes\",progress=\"failed\"} 0");
        ck_assert_line(t, "hitless_upgrade_phase_nodes{phase=\"computes\",progress=\"rolled_back\"} 0");
        ck_assert_line(t, "hitless_upgrade_phase_nodes{phase=\"computes\",progress=\"pending\"} 0");
        ck_assert_line(t, "hitless_upgrade_nodes{step=\"done\"} 1");
        ck_assert_line(t, "hitless_upgrade_nodes{step=\"installing\"} 1");
        ck_assert_line(t, "hitless_upgrade_nodes{step=\"pending\"} 1");
        ck_assert_line(t, "hitless_upgrade_nodes{step=\"failed\"} 0");
        ck_assert_line(t, "hitless_upgrade_commands_in_flight{action=\"install\"} 1");
        ck_assert_line(t, "hitless_upgrade_commands_in_flight{action=\"drain\"} 0");
        ck_assert_msg(!strstr(t, "action=\"none\""), "the machine's 'none' is no action");
        ck_assert_line(t, "hitless_quorum_group_members{group=\"cassandra\"} 3");
        ck_assert_line(t, "hitless_quorum_group_members_down{group=\"cassandra\"} 1");
        ck_assert_line(t, "hitless_quorum_group_budget{group=\"cassandra\"} 1");
        free(t);
}
END_TEST

/* No upgrade ever started, no groups: no upgrade or group metric at all
 * (not zeros that would read as an empty upgrade). */
START_TEST(test_no_upgrade) {
        fixture_t x;
        fixture(&x);
        x.up.upgrade_id = "";
        x.in.n_groups = 0;
        char *t = render(&x.in);
        ck_assert_ptr_null(strstr(t, "hitless_upgrade_"));
        ck_assert_ptr_null(strstr(t, "hitless_quorum_"));
        ck_assert_line(t, "hitless_agents_connected 2");
        x.in.upgrade = NULL;
        free(t);
        t = render(&x.in);
        ck_assert_ptr_null(strstr(t, "hitless_upgrade_"));
        free(t);
}
END_TEST

/* Every sample line names a metric that has HELP and TYPE before it, every
 * counter ends in _total, and hostile strings stay inside their quotes. */
START_TEST(test_format_rules) {
        fixture_t x;
        fixture(&x);
        x.phase.name = "bad\nphase\\\"";
        x.group.name = "g\"}\n# TYPE evil counter";
        store_commit_latency_t lat = { .count = 1, .sum_s = 0.002 };
        lat.bucket[3] = 1;
        metrics_commands_t cmds[] = { { "in\"stall", "succeeded", 1 } };
        x.in.commit_latency = &lat;
        x.in.commands = cmds;
        x.in.n_commands = 1;
        char *t = render(&x.in);
        char typed[128][96];
        size_t n_typed = 0;
        ck_assert_line(t, "hitless_upgrade_phase_size_nodes{phase=\"bad\\nphase\\\\\\\"\"} 2");
        ck_assert_ptr_null(strstr(t, "\n# TYPE evil"));
        for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
                char name[96], type[32];
                if (sscanf(line, "# TYPE %95s %31s", name, type) == 2) {
                        ck_assert_uint_lt(n_typed, 128);
                        snprintf(typed[n_typed++], sizeof typed[0], "%s", name);
                        ck_assert_msg(strncmp(name, "hitless_", 8) == 0, "%s has no hitless_ prefix", name);
                        size_t len = strlen(name);
                        bool total = len > 6 && strcmp(name + len - 6, "_total") == 0;
                        ck_assert_msg(total == (strcmp(type, "counter") == 0), "%s: %s", name, type);
                        continue;
                }
                if (line[0] == '#')
                        continue;
                size_t nl = strcspn(line, "{ ");
                bool found = false;
                for (size_t i = 0; i < n_typed && !found; i++) {
                        size_t tl = strlen(typed[i]);
                        /* a histogram's samples: NAME_bucket, NAME_sum, NAME_count */
                        found = strncmp(typed[i], line, tl) == 0 &&
                                (tl == nl || (nl > tl && (strncmp(line + tl, "_bucket", nl - tl) == 0 ||
                                                          strncmp(line + tl, "_sum", nl - tl) == 0 ||
                                                          strncmp(line + tl, "_count", nl - tl) == 0)));
                }
                ck_assert_msg(found, "sample before its TYPE: %s", line);
        }
        free(t);
}
END_TEST

START_TEST(test_commands_jobs_and_commit_latency) {
        fixture_t x;
        fixture(&x);
        metrics_commands_t cmds[] = { { "install", "succeeded", 12 }, { "check", "sent", 1 } };
        Hitless__JobStatus j1 = HITLESS__JOB_STATUS__INIT, j2 = HITLESS__JOB_STATUS__INIT, *jp[] = { &j1, &j2 };
        Hitless__JobList jobs = HITLESS__JOB_LIST__INIT;
        j1.id = "job-1";
        j1.state = "done";
        j1.succeeded = 3;
        j2.id = "job-2";
        j2.state = "running";
        j2.running = 2;
        j2.verifying = 1;
        j2.pending = 4;
        jobs.n_jobs = 2;
        jobs.jobs = jp;
        store_commit_latency_t lat = { .count = 3, .sum_s = 0.0125 };
        lat.bucket[1] = 2;                          /* <= 1 ms */
        lat.bucket[STORE_COMMIT_BUCKETS - 1] = 1;   /* slower than 1 s */
        x.in.commands = cmds;
        x.in.n_commands = 2;
        x.in.jobs = &jobs;
        x.in.commit_latency = &lat;
        char *t = render(&x.in);
        ck_assert_line(t, "hitless_commands{action=\"install\",state=\"succeeded\"} 12");
        ck_assert_line(t, "hitless_commands{action=\"check\",state=\"sent\"} 1");
        ck_assert_line(t, "hitless_jobs{state=\"running\"} 1");
        ck_assert_line(t, "hitless_jobs{state=\"done\"} 1");
        ck_assert_line(t, "hitless_jobs{state=\"paused\"} 0");
        ck_assert_line(t, "hitless_job_nodes{job=\"job-2\",result=\"verifying\"} 1");
        ck_assert_line(t, "hitless_job_nodes{job=\"job-2\",result=\"pending\"} 4");
        ck_assert_msg(!strstr(t, "job=\"job-1\""), "a finished job has no per-node series");
        ck_assert_line(t, "# TYPE hitless_store_commit_duration_seconds histogram");
        ck_assert_line(t, "hitless_store_commit_duration_seconds_bucket{le=\"0.0005\"} 0");
        ck_assert_line(t, "hitless_store_commit_duration_seconds_bucket{le=\"0.001\"} 2");
        ck_assert_line(t, "hitless_store_commit_duration_seconds_bucket{le=\"1\"} 2");
        ck_assert_line(t, "hitless_store_commit_duration_seconds_bucket{le=\"+Inf\"} 3");
        ck_assert_line(t, "hitless_store_commit_duration_seconds_sum 0.012500");
        ck_assert_line(t, "hitless_store_commit_duration_seconds_count 3");
        free(t);
}
END_TEST

START_TEST(test_listen) {
        struct sockaddr_in a;
        char why[256];
        ck_assert_int_eq(http_listen_parse(HTTP_LISTEN_DEFAULT, false, &a, why, sizeof why), 0);
        ck_assert_uint_eq(ntohs(a.sin_port), 9735);
        ck_assert(http_listen_is_loopback(&a));
        ck_assert_int_eq(http_listen_parse("127.0.0.2:0", false, &a, why, sizeof why), 0);
        ck_assert_uint_eq(ntohs(a.sin_port), 0);

        ck_assert_int_eq(http_listen_parse("0.0.0.0:9735", false, &a, why, sizeof why), -EINVAL);
        ck_assert_str_eq(why, "0.0.0.0 is not a loopback address; set http_allow_remote = true to serve "
                              "the fleet's state beyond this host");
        ck_assert_int_eq(http_listen_parse("0.0.0.0:9735", true, &a, why, sizeof why), 0);
        ck_assert(!http_listen_is_loopback(&a));
        ck_assert_int_eq(http_listen_parse("10.1.2.3:80", true, &a, why, sizeof why), 0);

        ck_assert_int_eq(http_listen_parse("localhost:9735", false, &a, why, sizeof why), -EINVAL);
        ck_assert_str_eq(why, "host 'localhost' is not an IPv4 address");
        ck_assert_int_eq(http_listen_parse("127.0.0.1:http", false, &a, why, sizeof why), -EINVAL);
        ck_assert_str_eq(why, "port 'http' is not a number from 0 to 65535");
        ck_assert_int_eq(http_listen_parse("127.0.0.1:65536", false, &a, why, sizeof why), -EINVAL);
        ck_assert_int_eq(http_listen_parse("127.0.0.1:", false, &a, why, sizeof why), -EINVAL);
        ck_assert_int_eq(http_listen_parse("9735", false, &a, why, sizeof why), -EINVAL);
        ck_assert_str_eq(why, "'9735' is not HOST:PORT (an IPv4 address and a port)");
        ck_assert_int_eq(http_listen_parse(":9735", false, &a, why, sizeof why), -EINVAL);
}
END_TEST

static Suite *http_metrics_suite(void) {
        Suite *s = suite_create("http_metrics");
        TCase *tc = tcase_create("metrics");
        tcase_add_test(tc, test_coordinator_and_nodes);
        tcase_add_test(tc, test_upgrade_and_groups);
        tcase_add_test(tc, test_no_upgrade);
        tcase_add_test(tc, test_format_rules);
        tcase_add_test(tc, test_commands_jobs_and_commit_latency);
        suite_add_tcase(s, tc);
        tc = tcase_create("listen");
        tcase_add_test(tc, test_listen);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run(http_metrics_suite());
}
