/* hitlessctl upgrade start|status|pause|resume|abort|promote: runs a plan
 * through the coordinator's executor and follows it. One upgrade runs at a
 * time; every answer is its UpgradeStatus (ctl/upgrade_view.h shows it).
 *
 * Exit: start 0 started, 1 refused (an invalid plan, or one already
 * running), 2 usage or a plan that does not parse; status --watch 0 when
 * the upgrade completes without error, 1 when it is aborted or the Error
 * condition holds at the end, 4 with --exit-on-pause when it waits for an
 * operator (paused, waiting for promote: the next commands on stderr), 130
 * on SIGINT; 3 coordinator unreachable. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/upgrade_json.h"
#include "ctl/ctl.h"
#include "ctl/upgrade_view.h"

int ctl_upgrade_answer(const ctl_t *ctl, const Hitless__AdminResponse *resp) {
        int rc = ctl_response_status(resp);
        if (resp->body_case != HITLESS__ADMIN_RESPONSE__BODY_UPGRADE_STATUS) {
                if (rc == CTL_EXIT_OK) {
                        fprintf(stderr, "hitlessctl: unexpected answer from the coordinator\n");
                        rc = CTL_EXIT_FAILED;
                }
                return rc;
        }
        if (ctl->json)
                upgrade_status_json(stdout, resp->upgrade_status);
        else
                upgrade_view_short(stdout, resp->upgrade_status);
        return rc;
}

/* ---- start -------------------------------------------------------------------- */

static int upgrade_start(const ctl_t *ctl, const char *path) {
        Hitless__AdminResponse *resp;
        int rc = ctl_send_plan(ctl, path, HITLESS__ADMIN_REQUEST__BODY_UPGRADE_START, &resp);
        if (rc != CTL_EXIT_OK)
                return rc;
        if (resp->body_case == HITLESS__ADMIN_RESPONSE__BODY_PLAN_PREVIEW) {
                /* Refused: the plan's errors, or its preview with the
                 * refusals, exactly as plan check shows them. */
                rc = ctl_plan_preview_report(ctl, resp->plan_preview);
                if (resp->plan_preview->n_errors == 0 && resp->status != HITLESS__ADMIN_STATUS__ADMIN_OK) {
                        int status = ctl_response_status(resp);  /* why nothing started */
                        if (rc == CTL_EXIT_OK)
                                rc = status;
                }
        } else {
                rc = ctl_upgrade_answer(ctl, resp);
        }
        hitless__admin_response__free_unpacked(resp, NULL);
        return rc;
}

/* ---- pause, resume, abort, promote ----------------------------------------------- */

static int upgrade_control(const ctl_t *ctl, Hitless__UpgradeOp op) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__UpgradeControlRequest uc = HITLESS__UPGRADE_CONTROL_REQUEST__INIT;
        Hitless__AdminResponse *resp;
        int rc;

        uc.op = op;
        req.body_case = HITLESS__ADMIN_REQUEST__BODY_UPGRADE_CONTROL;
        req.upgrade_control = &uc;
        if ((rc = ctl_call(ctl, &req, &resp)) != CTL_EXIT_OK)
                return rc;
        rc = ctl_upgrade_answer(ctl, resp);
        hitless__admin_response__free_unpacked(resp, NULL);
        return rc;
}

/* ---- status ------------------------------------------------------------------- */

/* The current UpgradeStatus in *ret (free with
 * hitless__admin_response__free_unpacked), or the exit code, printed. */
static int fetch_status(const ctl_t *ctl, Hitless__AdminResponse **ret) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__UpgradeStatusRequest sr = HITLESS__UPGRADE_STATUS_REQUEST__INIT;

        req.body_case = HITLESS__ADMIN_REQUEST__BODY_UPGRADE_STATUS;
        req.upgrade_status = &sr;
        return ctl_request(ctl, &req, HITLESS__ADMIN_RESPONSE__BODY_UPGRADE_STATUS, ret);
}

static int upgrade_status_once(const ctl_t *ctl) {
        Hitless__AdminResponse *resp;
        int rc = fetch_status(ctl, &resp);
        if (rc != CTL_EXIT_OK)
                return rc;
        if (ctl->json)
                upgrade_status_json(stdout, resp->upgrade_status);
        else
                upgrade_view_text(stdout, resp->upgrade_status);
        hitless__admin_response__free_unpacked(resp, NULL);
        return CTL_EXIT_OK;
}

/* ---- status --watch ------------------------------------------------------------ */

#define ANSI_HOME "\033[H"
#define ANSI_CLEAR_LINE "\033[K"
#define ANSI_CLEAR_BELOW "\033[J"
#define ANSI_HIDE_CURSOR "\033[?25l"
#define ANSI_SHOW_CURSOR "\033[?25h"

typedef struct {
        bool live;          /* stdout is a terminal: redraw in place */
        bool json;          /* one JSON object per line */
        char *last;         /* the frame shown last */
} watch_t;

/* The frame for st, malloc'ed; NULL when out of memory. */
static char *render(const watch_t *w, const Hitless__UpgradeStatus *st) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        if (w->json)
                upgrade_status_json(f, st);
        else
                upgrade_view_frame(f, st, w->live);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* Over the previous frame in place, each line cleared to its end so a
 * shorter line leaves nothing behind. */
static void redraw(const char *frame) {
        fputs(ANSI_HOME, stdout);
        for (const char *p = frame; *p;) {
                size_t n = strcspn(p, "\n");
                fwrite(p, 1, n, stdout);
                fputs(ANSI_CLEAR_LINE "\n", stdout);
                p += n + (p[n] == '\n');
        }
        fputs(ANSI_CLEAR_BELOW, stdout);
}

/* Takes frame. A log (not a terminal) gets a frame only when it differs
 * from the one before, text frames separated by a blank line. */
static void show(watch_t *w, char *frame) {
        if (w->live && !w->last)
                fputs(ANSI_HIDE_CURSOR ANSI_HOME ANSI_CLEAR_BELOW, stdout);
        if (w->live)
                redraw(frame);
        else if (!w->last || strcmp(frame, w->last) != 0)
                printf("%s%s", w->last && !w->json ? "\n" : "", frame);
        fflush(stdout);
        free(w->last);
        w->last = frame;
}

/* Sleeps `interval` seconds unless a signal of set arrives first: its
 * number, else 0. */
static int wait_interval(const sigset_t *set, double interval) {
        struct timespec ts = { .tv_sec = (time_t) interval };
        ts.tv_nsec = (long) ((interval - (double) ts.tv_sec) * 1e9);
        int sig = sigtimedwait(set, NULL, &ts);
        return sig > 0 ? sig : 0;
}

/* One poll: shows the status when it changed. *over once there is nothing
 * more to watch (no upgrade, complete or aborted, or an error). Returns
 * the exit code so far. */
static int watch_poll(const ctl_t *ctl, watch_t *w, bool exit_on_pause, bool *over) {
        Hitless__AdminResponse *resp;
        int rc = fetch_status(ctl, &resp);
        *over = true;
        if (rc != CTL_EXIT_OK)
                return rc;
        const Hitless__UpgradeStatus *st = resp->upgrade_status;
        bool none = !st->upgrade_id[0];
        char *frame = render(w, st);
        *over = none || upgrade_view_over(st) || !frame;
        rc = none ? CTL_EXIT_OK : upgrade_view_exit_code(st);
        const char *next = none ? NULL : upgrade_view_next_steps(st);
        if (exit_on_pause && next && !*over) {
                /* A script must not hang on a pause: say what to do. */
                *over = true;
                rc = CTL_EXIT_WAITS_FOR_OPERATOR;
                fprintf(stderr, "hitlessctl: upgrade %s is %s%s%s; %s\n", st->upgrade_id, st->state,
                        st->pause_reason[0] ? ": " : "", st->pause_reason, next);
        }
        hitless__admin_response__free_unpacked(resp, NULL);
        if (!frame) {
                fprintf(stderr, "hitlessctl: out of memory\n");
                return CTL_EXIT_FAILED;
        }
        show(w, frame);
        return rc;
}

static int upgrade_watch(const ctl_t *ctl, double interval, bool exit_on_pause) {
        watch_t w = { .live = !ctl->json && isatty(STDOUT_FILENO), .json = ctl->json };
        sigset_t set, old;
        bool over;
        int rc, sig = 0;

        /* SIGINT and SIGTERM wait, blocked, until wait_interval() takes
         * them: a request in progress is never cut, and the terminal is
         * always restored. */
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigprocmask(SIG_BLOCK, &set, &old);
        do
                rc = watch_poll(ctl, &w, exit_on_pause, &over);
        while (!over && (sig = wait_interval(&set, interval)) == 0);
        if (w.live && w.last)
                fputs(ANSI_SHOW_CURSOR, stdout);
        fflush(stdout);
        free(w.last);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return sig ? 128 + sig : rc;
}

/* ---- the command ----------------------------------------------------------- */

static int parse_interval(const char *s, double *ret) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || *end || !(v >= 0.1 && v <= 3600)) {
                fprintf(stderr, "hitlessctl: --interval must be a number of seconds, 0.1 to 3600\n");
                return CTL_EXIT_USAGE;
        }
        *ret = v;
        return CTL_EXIT_OK;
}

static int upgrade_status(const ctl_t *ctl, int argc, char **argv) {
        bool watch = false, exit_on_pause = false;
        double interval = 1;
        for (int i = 2; i < argc; i++) {
                if (strcmp(argv[i], "--watch") == 0) {
                        watch = true;
                } else if (strcmp(argv[i], "--exit-on-pause") == 0) {
                        exit_on_pause = true;
                } else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
                        if (parse_interval(argv[++i], &interval) != CTL_EXIT_OK)
                                return CTL_EXIT_USAGE;
                } else {
                        return ctl_usage(&ctl_cmd_upgrade);
                }
        }
        if (exit_on_pause && !watch)
                return ctl_usage(&ctl_cmd_upgrade);
        return watch ? upgrade_watch(ctl, interval, exit_on_pause) : upgrade_status_once(ctl);
}

static const struct {
        const char *name;
        Hitless__UpgradeOp op;
} controls[] = {
        { "pause", HITLESS__UPGRADE_OP__UPGRADE_PAUSE },
        { "resume", HITLESS__UPGRADE_OP__UPGRADE_RESUME },
        { "abort", HITLESS__UPGRADE_OP__UPGRADE_ABORT },
        { "promote", HITLESS__UPGRADE_OP__UPGRADE_PROMOTE },
};

static int upgrade_exec(ctl_t *ctl, int argc, char **argv) {
        argc = ctl_take_json_flag(ctl, argc, argv);
        if (argc < 2)
                return ctl_usage(&ctl_cmd_upgrade);
        if (strcmp(argv[1], "start") == 0) {
                if (argc != 3 || argv[2][0] == '-')
                        return ctl_usage(&ctl_cmd_upgrade);
                return upgrade_start(ctl, argv[2]);
        }
        if (strcmp(argv[1], "status") == 0)
                return upgrade_status(ctl, argc, argv);
        for (size_t i = 0; i < sizeof controls / sizeof *controls; i++)
                if (strcmp(argv[1], controls[i].name) == 0)
                        return argc == 2 ? upgrade_control(ctl, controls[i].op) : ctl_usage(&ctl_cmd_upgrade);
        fprintf(stderr, "hitlessctl: unknown upgrade command '%s'\n", argv[1]);
        return ctl_usage(&ctl_cmd_upgrade);
}

const ctl_command_t ctl_cmd_upgrade = {
        .name = "upgrade",
        .usage = "upgrade start FILE [--json]\n"
                 "upgrade status [--json] [--watch [--exit-on-pause]] [--interval SECONDS]\n"
                 "upgrade pause|resume|abort|promote [--json]",
        .exec = upgrade_exec,
};
