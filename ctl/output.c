#include <stdio.h>
#include <time.h>

#include "ctl/ctl.h"

void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) (s ? s : ""); *p; p++) {
                switch (*p) {
                case '"': fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\n': fputs("\\n", f); break;
                case '\r': fputs("\\r", f); break;
                case '\t': fputs("\\t", f); break;
                default:
                        if (*p < 0x20)
                                fprintf(f, "\\u%04x", *p);
                        else
                                fputc(*p, f);
                }
        }
        fputc('"', f);
}

const char *ctl_ago(long long t, char *buf, size_t len) {
        long long d = (long long) time(NULL) - t;
        if (t <= 0)
                snprintf(buf, len, "never");
        else if (d < 0)
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
