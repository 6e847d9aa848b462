/* Batch jobs: a batch command's run (ctl_job_run, from cmd_actions.c),
 * `hitlessctl jobs`, `job status ID [--watch]`, `job pause|resume|abort ID`.
 *
 * A batch command is one JobRequest; hitlessctl then follows the job by
 * asking for its status (one request for all its nodes) and prints each
 * node's result once, as it arrives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "ctl/ctl.h"

#define POLL_MS 200

static void s_sleep_ms(long ms) {
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static bool s_final(const char *state) {
        return strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 || strcmp(state, "skipped") == 0;
}

static void s_node_json(const Hitless__JobStatus *s, const Hitless__JobNode *n) {
        json_kv(stdout, "{", "job", s->id);
        json_kv(stdout, ",", "node_id", n->node_id);
        json_kv(stdout, ",", "action", s->action);
        json_kv(stdout, ",", "state", n->state);
        json_kv(stdout, ",", "command_id", n->command_id);
        json_kv(stdout, ",", "message", n->message);
        if (s->dry_run)
                json_int(stdout, ",", "batch", n->batch);
        printf("}\n");
}

static void s_node_text(const Hitless__JobStatus *s, const Hitless__JobNode *n) {
        printf("%s: %s %s %s%s%s\n", n->node_id, s->action, n->command_id[0] ? n->command_id : "-", n->state,
               n->message[0] ? ": " : "", n->message);
}

static void s_summary_json(const Hitless__JobStatus *s) {
        json_kv(stdout, "{", "job", s->id);
        json_kv(stdout, ",", "action", s->action);
        json_kv(stdout, ",", "actor", s->actor);
        json_int(stdout, ",", "created", s->created);
        json_kv(stdout, ",", "state", s->state);
        json_kv(stdout, ",", "message", s->message);
        json_int(stdout, ",", "batch", s->batch_size);
        json_kv(stdout, ",", "mode", s->mode);
        json_int(stdout, ",", "max_failures", s->max_failures);
        json_int(stdout, ",", "nodes",
                 (long long) (s->succeeded + s->failed + s->running + s->verifying + s->pending + s->skipped));
        json_int(stdout, ",", "succeeded", s->succeeded);
        json_int(stdout, ",", "failed", s->failed);
        json_int(stdout, ",", "running", s->running);
        json_int(stdout, ",", "verifying", s->verifying);
        json_int(stdout, ",", "pending", s->pending);
        json_int(stdout, ",", "skipped", s->skipped);
        json_int(stdout, ",", "min_healthy_time_s", s->min_healthy_time_ms / 1000);
        json_int(stdout, ",", "healthy_deadline_s", s->healthy_deadline_ms / 1000);
        printf("}\n");
}

static void s_summary_text(const Hitless__JobStatus *s) {
        char gate[96] = "", verifying[32] = "";
        if (s->healthy_deadline_ms > 0) {
                snprintf(gate, sizeof gate, ", health gate %llds within %llds",
                         (long long) s->min_healthy_time_ms / 1000, (long long) s->healthy_deadline_ms / 1000);
                snprintf(verifying, sizeof verifying, " %u verifying,", s->verifying);
        }
        printf("%s %s by %s: %s%s%s; %u succeeded, %u failed, %u running,%s %u pending, %u skipped "
               "(batch %u %s, max_failures %u%s)\n",
               s->id, s->action, s->actor, s->state, s->message[0] ? ": " : "", s->message, s->succeeded, s->failed,
               s->running, verifying, s->pending, s->skipped, s->batch_size, s->mode, s->max_failures, gate);
}

static void s_json_str(FILE *f, const void *item) {
        json_string(f, item);
}

static void s_print_dry_run(const ctl_t *ctl, const Hitless__JobStatus *s) {
        uint32_t batches = 0;
        for (size_t i = 0; i < s->n_nodes; i++)
                if (s->nodes[i]->batch > batches)
                        batches = s->nodes[i]->batch;
        if (ctl->json) {
                for (size_t i = 0; i < s->n_nodes; i++)
                        s_node_json(s, s->nodes[i]);
                json_kv(stdout, "{", "dry_run", s->action);
                json_int(stdout, ",", "batches", batches);
                json_int(stdout, ",", "batch", s->batch_size);
                json_int(stdout, ",", "max_failures", s->max_failures);
                json_array(stdout, ",", "quorum", (void *const *) s->quorum, s->n_quorum, s_json_str);
                printf("}\n");
                return;
        }
        printf("dry run: %s on %zu nodes, batch %u, max_failures %u: %u batches (if every node succeeds)\n",
               s->action, s->n_nodes, s->batch_size, s->max_failures, batches);
        for (size_t q = 0; q < s->n_quorum; q++)
                printf("  %s\n", s->quorum[q]);
        for (uint32_t b = 1; b <= batches; b++) {
                printf("  batch %u:", b);
                for (size_t i = 0; i < s->n_nodes; i++)
                        if (s->nodes[i]->batch == b)
                                printf(" %s", s->nodes[i]->node_id);
                printf("\n");
        }
        for (size_t i = 0; i < s->n_nodes; i++)
                if (!s->nodes[i]->batch)
                        printf("  never: %s: %s\n", s->nodes[i]->node_id, s->nodes[i]->message);
}

static int s_status_call(ctl_t *ctl, Hitless__JobOp op, const char *id, Hitless__AdminResponse **ret) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__JobControlRequest jc = HITLESS__JOB_CONTROL_REQUEST__INIT;
        jc.op = op;
        jc.job_id = (char *) id;
        req.body_case = HITLESS__ADMIN_REQUEST__BODY_JOB_CONTROL;
        req.job_control = &jc;
        return ctl_request(ctl, &req, op == HITLESS__JOB_OP__JOB_LIST ? HITLESS__ADMIN_RESPONSE__BODY_JOBS
                                                                        : HITLESS__ADMIN_RESPONSE__BODY_JOB,
                           ret);
}

/* Prints every node that became final since printed[], until the job
 * stops moving (over, or paused with nothing running). Exit 0 only when
 * every node succeeded. resp is consumed. */
static int s_follow(ctl_t *ctl, Hitless__AdminResponse *resp) {
        char id[64];
        bool *printed = calloc(resp->job->n_nodes + 1, sizeof *printed);
        size_t n_nodes = resp->job->n_nodes;
        int rc = CTL_EXIT_OK;
        snprintf(id, sizeof id, "%s", resp->job->id);
        if (!printed) {
                hitless__admin_response__free_unpacked(resp, NULL);
                return CTL_EXIT_FAILED;
        }
        for (;;) {
                const Hitless__JobStatus *s = resp->job;
                for (size_t i = 0; i < s->n_nodes && i < n_nodes; i++) {
                        if (printed[i] || !s_final(s->nodes[i]->state))
                                continue;
                        printed[i] = true;
                        if (ctl->json)
                                s_node_json(s, s->nodes[i]);
                        else
                                s_node_text(s, s->nodes[i]);
                        fflush(stdout);
                }
                bool moving = strcmp(s->state, "running") == 0 || s->running > 0 || s->verifying > 0;
                if (!moving) {
                        if (ctl->json)
                                s_summary_json(s);
                        else
                                s_summary_text(s);
                        rc = s->succeeded == n_nodes ? CTL_EXIT_OK : CTL_EXIT_FAILED;
                        break;
                }
                hitless__admin_response__free_unpacked(resp, NULL);
                resp = NULL;
                s_sleep_ms(POLL_MS);
                if ((rc = s_status_call(ctl, HITLESS__JOB_OP__JOB_STATUS, id, &resp)) != CTL_EXIT_OK)
                        break;
        }
        if (resp)
                hitless__admin_response__free_unpacked(resp, NULL);
        free(printed);
        return rc;
}

int ctl_job_run(ctl_t *ctl, Hitless__JobRequest *jr, bool no_wait) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__AdminResponse *resp;
        req.body_case = HITLESS__ADMIN_REQUEST__BODY_JOB;
        req.job = jr;
        int rc = ctl_request(ctl, &req, HITLESS__ADMIN_RESPONSE__BODY_JOB, &resp);
        if (rc != CTL_EXIT_OK)
                return rc;
        if (jr->dry_run) {
                s_print_dry_run(ctl, resp->job);
                hitless__admin_response__free_unpacked(resp, NULL);
                return CTL_EXIT_OK;
        }
        if (no_wait) {
                if (ctl->json)
                        s_summary_json(resp->job);
                else
                        printf("%s\n", resp->job->id);
                hitless__admin_response__free_unpacked(resp, NULL);
                return CTL_EXIT_OK;
        }
        return s_follow(ctl, resp);
}

/* ---- jobs, job status|pause|resume|abort ------------------------------------- */

static int jobs_exec(ctl_t *ctl, int argc, char **argv) {
        Hitless__AdminResponse *resp;
        argc = ctl_take_json_flag(ctl, argc, argv);
        if (argc != 1)
                return ctl_usage(&ctl_cmd_jobs);
        int rc = s_status_call(ctl, HITLESS__JOB_OP__JOB_LIST, "", &resp);
        if (rc != CTL_EXIT_OK)
                return rc;
        for (size_t i = 0; i < resp->jobs->n_jobs; i++)
                if (ctl->json)
                        s_summary_json(resp->jobs->jobs[i]);
                else
                        s_summary_text(resp->jobs->jobs[i]);
        if (!ctl->json && resp->jobs->n_jobs == 0)
                printf("no jobs\n");
        hitless__admin_response__free_unpacked(resp, NULL);
        return CTL_EXIT_OK;
}

const ctl_command_t ctl_cmd_jobs = { "jobs", "jobs [--json]", jobs_exec };

static int job_exec(ctl_t *ctl, int argc, char **argv) {
        static const struct {
                const char *name;
                Hitless__JobOp op;
        } ops[] = { { "status", HITLESS__JOB_OP__JOB_STATUS },
                    { "pause", HITLESS__JOB_OP__JOB_PAUSE },
                    { "resume", HITLESS__JOB_OP__JOB_RESUME },
                    { "abort", HITLESS__JOB_OP__JOB_ABORT } };
        Hitless__AdminResponse *resp;
        bool watch = false;
        argc = ctl_take_json_flag(ctl, argc, argv);
        if (argc == 4 && strcmp(argv[1], "status") == 0 && strcmp(argv[3], "--watch") == 0) {
                watch = true;
                argc--;
        }
        if (argc != 3 || argv[2][0] == '-')
                return ctl_usage(&ctl_cmd_job);
        for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
                if (strcmp(argv[1], ops[k].name) != 0)
                        continue;
                int rc = s_status_call(ctl, ops[k].op, argv[2], &resp);
                if (rc != CTL_EXIT_OK)
                        return rc;
                if (watch)
                        return s_follow(ctl, resp);
                for (size_t i = 0; i < resp->job->n_nodes; i++)
                        if (ctl->json)
                                s_node_json(resp->job, resp->job->nodes[i]);
                        else
                                s_node_text(resp->job, resp->job->nodes[i]);
                if (ctl->json)
                        s_summary_json(resp->job);
                else
                        s_summary_text(resp->job);
                hitless__admin_response__free_unpacked(resp, NULL);
                return CTL_EXIT_OK;
        }
        return ctl_usage(&ctl_cmd_job);
}

const ctl_command_t ctl_cmd_job = { "job", "job status ID [--watch] [--json]\njob pause|resume|abort ID [--json]",
                                    job_exec };
