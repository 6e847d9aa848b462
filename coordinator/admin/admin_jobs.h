/* The admin API's batch jobs: JobRequest (a batch command, or its dry run)
 * and JobControlRequest (list, status, pause, resume, abort), answered
 * from jobs.h. */
#pragma once
#include "coordinator/jobs/jobs.h"
#include "proto/hitless.pb-c.h"

/* What an answer owns until it was sent (admin_jobs_answer_clear). */
typedef struct {
        Hitless__JobStatus *status;
        Hitless__JobList *list;
        char error[512];
} admin_jobs_answer_t;

/* Fill resp (its body or its error) for req by actor. A bad request
 * (nothing selected, an unknown group, --batch 0, ...) is
 * ADMIN_BAD_REQUEST: hitlessctl exits 2. */
void admin_job_submit(jobs_t *jobs, const Hitless__JobRequest *req, const char *actor,
                      Hitless__AdminResponse *resp, admin_jobs_answer_t *ans);
void admin_job_control(jobs_t *jobs, const Hitless__JobControlRequest *req, const char *actor,
                       Hitless__AdminResponse *resp, admin_jobs_answer_t *ans);
void admin_jobs_answer_clear(admin_jobs_answer_t *ans);
