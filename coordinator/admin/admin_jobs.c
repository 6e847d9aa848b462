#include "coordinator/admin/admin_jobs.h"

#include <errno.h>
#include <stdio.h>

static void s_answer(int r, Hitless__AdminResponse *resp, admin_jobs_answer_t *ans) {
        if (r >= 0) {
                if (ans->list) {
                        resp->body_case = HITLESS__ADMIN_RESPONSE__BODY_JOBS;
                        resp->jobs = ans->list;
                } else {
                        resp->body_case = HITLESS__ADMIN_RESPONSE__BODY_JOB;
                        resp->job = ans->status;
                }
                return;
        }
        if (!ans->error[0])
                snprintf(ans->error, sizeof ans->error, "%s", r == -ENOMEM ? "out of memory" : "failed");
        resp->status = r == -EINVAL ? HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST : HITLESS__ADMIN_STATUS__ADMIN_FAILED;
        resp->error = ans->error;
}

void admin_job_submit(jobs_t *jobs, const Hitless__JobRequest *req, const char *actor,
                      Hitless__AdminResponse *resp, admin_jobs_answer_t *ans) {
        int r = jobs_submit(jobs, req, actor, &ans->status, ans->error, sizeof ans->error);
        s_answer(r, resp, ans);
}

void admin_job_control(jobs_t *jobs, const Hitless__JobControlRequest *req, const char *actor,
                       Hitless__AdminResponse *resp, admin_jobs_answer_t *ans) {
        int r;
        if (req->op == HITLESS__JOB_OP__JOB_LIST)
                r = jobs_list(jobs, &ans->list);
        else
                r = jobs_control(jobs, req->op, req->job_id, actor, &ans->status, ans->error, sizeof ans->error);
        s_answer(r, resp, ans);
}

void admin_jobs_answer_clear(admin_jobs_answer_t *ans) {
        if (ans->status)
                hitless__job_status__free_unpacked(ans->status, NULL);
        if (ans->list)
                hitless__job_list__free_unpacked(ans->list, NULL);
        ans->status = NULL;
        ans->list = NULL;
}
