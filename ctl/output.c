#include <stdio.h>
#include <time.h>

#include "ctl/ctl.h"

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
