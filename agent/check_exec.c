/* CHECK_EXEC: a local probe program exits 0 within the timeout. */
#include "agent/health.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/exec.h"

/* A probe explains itself in its last line; 4 KiB of tail is plenty. */
#define CHECK_EXEC_MAX_OUTPUT 4096

/* The last non-blank line of s, trimmed, copied into buf. */
static const char *s_last_line(const char *s, size_t len, char *buf, size_t buflen) {
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' ||
                           s[len - 1] == '\t'))
                len--;
        size_t start = len;
        while (start > 0 && s[start - 1] != '\n')
                start--;
        while (start < len && (s[start] == ' ' || s[start] == '\t'))
                start++;
        snprintf(buf, buflen, "%.*s", (int) (len - start), s + start);
        return buf;
}

int check_exec_run(const check_config_t *c, check_outcome_t *out) {
        out->ok = false;
        if (!c->argv || !c->argv[0]) {
                snprintf(out->detail, sizeof out->detail, "no command configured");
                return -EINVAL;
        }

        exec_options_t opts = { .timeout_ms = check_timeout_ms(c), .max_output = CHECK_EXEC_MAX_OUTPUT };
        exec_result_t res = { 0 };
        int r = exec_run(c->argv, &opts, &res);
        if (r < 0) {
                snprintf(out->detail, sizeof out->detail, "cannot run %s: %s", c->argv[0], strerror(-r));
                return r;
        }

        char what[64], line[200];
        exec_describe(&res, what, sizeof what);
        s_last_line(res.output, res.output_len, line, sizeof line);
        if (line[0])
                snprintf(out->detail, sizeof out->detail, "%s: %s", what, line);
        else
                snprintf(out->detail, sizeof out->detail, "%s", what);

        out->ok = exec_succeeded(&res);
        r = out->ok ? 0 : res.timed_out ? -ETIMEDOUT : -EIO;
        exec_result_free(&res);
        return r;
}
