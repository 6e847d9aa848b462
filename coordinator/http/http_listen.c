/* http_listen's syntax; see http_listen.h. */
#include "coordinator/http/http_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool http_listen_is_loopback(const struct sockaddr_in *a) {
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
}

int http_listen_parse(const char *s, bool allow_remote, struct sockaddr_in *ret, char *err, size_t err_len) {
        char host[64];
        const char *colon = strrchr(s, ':');
        struct sockaddr_in a = { .sin_family = AF_INET };
        char *end;

        if (!colon || colon == s || (size_t) (colon - s) >= sizeof host) {
                snprintf(err, err_len, "'%s' is not HOST:PORT (an IPv4 address and a port)", s);
                return -EINVAL;
        }
        memcpy(host, s, (size_t) (colon - s));
        host[colon - s] = '\0';
        if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
                snprintf(err, err_len, "host '%s' is not an IPv4 address", host);
                return -EINVAL;
        }
        errno = 0;
        long port = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || errno || port < 0 || port > 65535) {
                snprintf(err, err_len, "port '%s' is not a number from 0 to 65535", colon + 1);
                return -EINVAL;
        }
        a.sin_port = htons((uint16_t) port);
        if (!allow_remote && !http_listen_is_loopback(&a)) {
                snprintf(err, err_len, "%s is not a loopback address; set http_allow_remote = true to serve "
                         "the fleet's state beyond this host", host);
                return -EINVAL;
        }
        *ret = a;
        return 0;
}
