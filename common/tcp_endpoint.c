#include "common/tcp_endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/endpoint.h"

/* Linux interface names are at most IFNAMSIZ - 1 characters. */
#define IFNAME_MAX 15
/* Longer is no address nor interface name: shown cut in messages. */
#define SHOWN_MAX 80

/* Every refusal names the part after tcp:// and why. */
static int refuse(char *err, size_t err_len, const char *hp, const char *why) {
        if (err && err_len > 0)
                snprintf(err, err_len, "'%.*s': %s", SHOWN_MAX, hp, why);
        return -EINVAL;
}

/* Digits, the characters of extra, and letters when alpha; not empty. */
static bool all_of(const char *h, size_t n, const char *extra, bool alpha) {
        for (size_t i = 0; i < n; i++) {
                char c = h[i];
                bool ok = (c >= '0' && c <= '9') || (c != '\0' && strchr(extra, c)) ||
                          (alpha && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')));
                if (!ok)
                        return false;
        }
        return n > 0;
}

/* The host of a bind: `*`, an IPv4 address, or an interface name as `ip
 * link` shows them (eth0, enp3s0, bond0.100, br-ex). Whether such an
 * interface exists is the bind's business, on the host that runs it. */
static const char *bind_host_problem(const char *h, size_t n) {
        char buf[INET_ADDRSTRLEN];
        struct in_addr a;

        if (n == 0)
                return "missing address (use '*' for every address)";
        if (n == 1 && h[0] == '*')
                return NULL;
        if (h[0] == '[')
                return "IPv6 addresses are not supported";
        if (all_of(h, n, ".", false)) {
                if (n >= sizeof buf)
                        return "bad IPv4 address";
                memcpy(buf, h, n);
                buf[n] = '\0';
                return inet_pton(AF_INET, buf, &a) == 1 ? NULL : "bad IPv4 address";
        }
        if (n <= IFNAME_MAX && all_of(h, n, "_.-", true))
                return NULL;
        return "not '*', an IPv4 address or an interface name (host names cannot be bound)";
}

static int check_bind(const char *hp, char *err, size_t err_len) {
        const char *colon = strrchr(hp, ':');
        const char *why;
        char portwhy[128];
        uint16_t port;

        if (!colon)
                why = "missing ':PORT'";
        else if (!(why = bind_host_problem(hp, (size_t) (colon - hp))) && strcmp(colon + 1, "*") != 0 &&
                 strcmp(colon + 1, "0") != 0 &&
                 endpoint_parse_port(colon + 1, &port, portwhy, sizeof portwhy) < 0)
                why = portwhy;
        return why ? refuse(err, err_len, hp, why) : 0;
}

int tcp_endpoint_check(const char *s, tcp_endpoint_use_t use, char *err, size_t err_len) {
        endpoint_t e;

        if (strncmp(s, "tcp://", 6) != 0) {
                if (err && err_len > 0)
                        snprintf(err, err_len, "must be tcp://%s:PORT", use == TCP_ENDPOINT_BIND ? "ADDRESS" : "HOST");
                return -EINVAL;
        }
        if (use == TCP_ENDPOINT_BIND)
                return check_bind(s + 6, err, err_len);
        /* endpoint_parse's message already names the element. */
        if (endpoint_parse(s + 6, 0, &e, err, err_len) < 0)
                return -EINVAL;
        if (e.kind == ENDPOINT_IPV6)
                return refuse(err, err_len, s + 6, "IPv6 addresses are not supported");
        return 0;
}
