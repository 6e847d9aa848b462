#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "common/text.h"
#include "ctl/ctl.h"

void ctl_print_forms(FILE *f, const ctl_command_t *cmd, const char *first, const char *rest) {
        const char *form = cmd->usage;
        for (const char *prefix = first; *form; prefix = rest) {
                size_t n = strcspn(form, "\n");
                fprintf(f, "%s %.*s\n", prefix, (int) n, form);
                form += n + (form[n] == '\n');
        }
}

int ctl_usage(const ctl_command_t *cmd) {
        ctl_print_forms(stderr, cmd, "usage: hitlessctl", "       hitlessctl");
        return CTL_EXIT_USAGE;
}

int ctl_parse_node_limit(const ctl_command_t *cmd, int argc, char **argv, char **ret_node,
                         uint32_t *ret_limit) {
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--node") == 0 && i + 1 < argc) {
                        *ret_node = argv[++i];
                } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
                        char *end;
                        long v = strtol(argv[++i], &end, 10);
                        if (*end || v <= 0 || v > CTL_LIMIT_MAX) {
                                fprintf(stderr, "hitlessctl: --limit must be 1..%d\n", CTL_LIMIT_MAX);
                                return CTL_EXIT_USAGE;
                        }
                        *ret_limit = (uint32_t) v;
                } else {
                        return ctl_usage(cmd);
                }
        }
        return CTL_EXIT_OK;
}

const char *ctl_ago(long long t, char *buf, size_t len) {
        /* t comes from the coordinator's answer: compute the difference only
         * for t > 0, where it cannot overflow. */
        if (t <= 0) {
                snprintf(buf, len, "never");
                return buf;
        }
        long long d = (long long) time(NULL) - t;
        if (d < 0)
                snprintf(buf, len, "just now");
        else if (d < 120)
                snprintf(buf, len, "%llds ago", d);
        else if (d < 7200)
                snprintf(buf, len, "%lldm ago", d / 60);
        else if (d < 172800)
                snprintf(buf, len, "%lldh ago", d / 3600);
        else
                snprintf(buf, len, "%lldd ago", d / 86400);
        return buf;
}

const char *ctl_local_time(long long t, char *buf, size_t len) {
        time_t tt = (time_t) t;
        struct tm tm;
        if (localtime_r(&tt, &tm) && strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) > 0)
                return buf;
        snprintf(buf, len, "@%lld", t);
        return buf;
}

void ctl_table_add(ctl_table_t *t, ...) {
        va_list ap;
        if (t->rows == t->cap) {
                size_t cap = 2 * t->cap + 16;
                char **v = realloc(t->cells, cap * t->cols * sizeof *v);
                if (!v)
                        return;
                t->cells = v;
                t->cap = cap;
        }
        va_start(ap, t);
        for (size_t c = 0; c < t->cols; c++) {
                const char *s = va_arg(ap, const char *);
                t->cells[t->rows * t->cols + c] = strdup(s && *s ? s : "-");
        }
        va_end(ap);
        t->rows++;
}

void ctl_table_print(FILE *f, ctl_table_t *t, const char *indent) {
        size_t w[CTL_TABLE_COLS] = { 0 };
        for (size_t r = 0; r < t->rows; r++)
                for (size_t c = 0; c < t->cols; c++) {
                        const char *s = t->cells[r * t->cols + c];
                        if (s && strlen(s) > w[c])
                                w[c] = strlen(s);
                }
        for (size_t r = 0; r < t->rows; r++) {
                fprintf(f, "%s", indent);
                for (size_t c = 0; c < t->cols; c++) {
                        const char *s = t->cells[r * t->cols + c];
                        if (c + 1 == t->cols)
                                fprintf(f, "%s\n", s ? s : "");
                        else
                                fprintf(f, "%-*s  ", (int) w[c], s ? s : "");
                }
        }
        for (size_t i = 0; i < t->rows * t->cols; i++)
                free(t->cells[i]);
        free(t->cells);
        t->cells = NULL;
        t->rows = t->cap = 0;
}

/* A command's output tail is shown as lines (ctl/cmd_actions.c indents
 * them); every other string is one line. */
static unsigned s_escape_flags(const ProtobufCFieldDescriptor *f) {
        static const ProtobufCFieldDescriptor *tail;
        if (!tail)
                tail = protobuf_c_message_descriptor_get_field_by_name(&hitless__command_status__descriptor,
                                                                       "output_tail");
        return f == tail ? TEXT_KEEP_NEWLINES : 0;
}

static int s_escape_string(const ProtobufCFieldDescriptor *f, void *value, void *ud) {
        char **s = value, *escaped;
        unsigned flags = s_escape_flags(f);
        (void) ud;
        if (f->type != PROTOBUF_C_TYPE_STRING || !*s || text_escape(NULL, 0, *s, flags) == strlen(*s))
                return 0;
        if (text_escape_dup(*s, flags, &escaped) < 0)
                return -ENOMEM;
        free(*s);
        *s = escaped;
        return 0;
}

int ctl_escape_response(Hitless__AdminResponse *resp, bool json) {
        if (!json)
                return codec_walk(&resp->base, s_escape_string, NULL);
        /* JSON escapes its strings itself; only the error goes to stderr
         * as text. */
        const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field_by_name(resp->base.descriptor, "error");
        return s_escape_string(f, &resp->error, NULL);
}
