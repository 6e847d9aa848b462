#include "common/endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest element worth looking at: "[" + host + "]:" + port. */
#define ELEMENT_MAX (ENDPOINT_HOST_MAX + 8)

static bool s_isdigit(char c) {
        return c >= '0' && c <= '9';
}

static bool s_isalnum(char c) {
        return s_isdigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool s_is_separator(char c) {
        return c == ',' || c == ' ' || c == '\t';
}

static int s_fail(char *err, size_t err_len, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int s_fail(char *err, size_t err_len, const char *fmt, ...) {
        if (err && err_len > 0) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err, err_len, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

/* Input may come from a file or the network: show it in an error message
 * bounded and with control characters defused. */
static const char *s_printable(const char *s, size_t n, char *buf, size_t len) {
        size_t j = 0;
        for (; j < n && j + 4 < len; j++)
                buf[j] = (unsigned char) s[j] < 0x20 || (unsigned char) s[j] >= 0x7f ? '?' : s[j];
        if (j < n)
                memcpy(buf + j, "...", 3), j += 3;
        buf[j] = '\0';
        return buf;
}

static const char *s_check_dns_name(const char *h, size_t n) {
        if (n > ENDPOINT_HOST_MAX)
                return "host name longer than 253 characters";
        if (h[n - 1] == '.')
                return "host name ends with '.'";

        size_t label = 0;
        bool label_numeric = true;
        for (size_t i = 0; i <= n; i++) {
                char c = i < n ? h[i] : '.';
                if (c == '.') {
                        if (label == 0)
                                return "empty label in host name";
                        if (h[i - 1] == '-')
                                return "host name label ends with '-'";
                        if (i == n && label_numeric)
                                return "host name's last label is all digits";
                        label = 0;
                        label_numeric = true;
                        continue;
                }
                if (!s_isalnum(c) && c != '-')
                        return "invalid character in host name";
                if (label == 0 && c == '-')
                        return "host name label starts with '-'";
                if (++label > 63)
                        return "host name label longer than 63 characters";
                label_numeric = label_numeric && s_isdigit(c);
        }
        return NULL;
}

/* Classifies and checks an unbracketed host; NULL if fine. */
static const char *s_check_host(const char *h, size_t n, endpoint_kind_t *kind) {
        char buf[ENDPOINT_HOST_MAX + 1];
        struct in_addr a4;
        bool dotted_digits = true;

        if (n == 0)
                return "missing host";
        if (n > ENDPOINT_HOST_MAX)
                return "host name longer than 253 characters";
        for (size_t i = 0; i < n; i++)
                dotted_digits = dotted_digits && (s_isdigit(h[i]) || h[i] == '.');
        if (dotted_digits) {
                memcpy(buf, h, n);
                buf[n] = '\0';
                /* glibc's inet_pton takes exactly a dotted quad of 0..255
                 * without leading zeros (which some parsers read as octal). */
                if (inet_pton(AF_INET, buf, &a4) != 1)
                        return "bad IPv4 address";
                *kind = ENDPOINT_IPV4;
                return NULL;
        }
        *kind = ENDPOINT_DNS;
        return s_check_dns_name(h, n);
}

static const char *s_check_ipv6(const char *h, size_t n) {
        char buf[INET6_ADDRSTRLEN + 1];
        struct in6_addr a6;

        if (n == 0)
                return "missing IPv6 address in brackets";
        if (n >= sizeof buf)
                return "bad IPv6 address";
        memcpy(buf, h, n);
        buf[n] = '\0';
        if (inet_pton(AF_INET6, buf, &a6) != 1)
                return "bad IPv6 address";
        return NULL;
}

static const char *s_parse_port(const char *p, uint16_t *ret) {
        unsigned v = 0;
        size_t n = strlen(p);

        if (n == 0)
                return "missing port after ':'";
        /* Digits first: "notaport" is no number, not a big one. */
        for (size_t i = 0; i < n; i++)
                if (!s_isdigit(p[i]))
                        return "port is not a decimal number";
        if (n > 5)
                return "port out of range 1..65535";
        for (size_t i = 0; i < n; i++)
                v = v * 10 + (unsigned) (p[i] - '0');
        if (p[0] == '0' && n > 1)
                return "port has leading zeros";
        if (v < 1 || v > 65535)
                return "port out of range 1..65535";
        *ret = (uint16_t) v;
        return NULL;
}

/* Parses one NUL-terminated element; returns NULL or the reason. */
static const char *s_parse(const char *s, uint16_t default_port, endpoint_t *ret) {
        endpoint_t e = { .port = default_port };
        const char *host, *port = NULL, *why;
        size_t host_len;

        if (*s == '\0')
                return "empty endpoint";
        if (strlen(s) > ELEMENT_MAX)
                return "too long";

        if (*s == '[') {
                const char *close = strchr(s, ']');
                if (!close)
                        return "missing ']' after IPv6 address";
                host = s + 1;
                host_len = (size_t) (close - host);
                if (close[1] == ':')
                        port = close + 2;
                else if (close[1] != '\0')
                        return "unexpected characters after ']'";
                why = s_check_ipv6(host, host_len);
                e.kind = ENDPOINT_IPV6;
        } else {
                const char *colon = strchr(s, ':');
                host = s;
                host_len = strlen(s);
                if (colon && strchr(colon + 1, ':')) {
                        /* Several colons: a bare IPv6 address, which can
                         * only be read unambiguously without a port. */
                        if (default_port == 0)
                                return "IPv6 address with a port must be written [address]:port";
                        why = s_check_ipv6(host, host_len);
                        e.kind = ENDPOINT_IPV6;
                } else {
                        if (colon) {
                                host_len = (size_t) (colon - s);
                                port = colon + 1;
                        }
                        why = s_check_host(host, host_len, &e.kind);
                }
        }
        if (why)
                return why;

        if (port) {
                why = s_parse_port(port, &e.port);
                if (why)
                        return why;
        } else if (default_port == 0)
                return "missing ':port'";

        memcpy(e.host, host, host_len);
        e.host[host_len] = '\0';
        *ret = e;
        return NULL;
}

int endpoint_parse(const char *s, uint16_t default_port, endpoint_t *ret, char *err,
                   size_t err_len) {
        char shown[80];
        endpoint_t e;

        if (!s)
                return s_fail(err, err_len, "no endpoint");
        const char *why = s_parse(s, default_port, &e);
        if (why)
                return s_fail(err, err_len, "'%s': %s", s_printable(s, strlen(s), shown, sizeof shown),
                              why);
        *ret = e;
        return 0;
}

int endpoint_parse_port(const char *s, uint16_t *ret, char *err, size_t err_len) {
        const char *why = s_parse_port(s, ret);
        return why ? s_fail(err, err_len, "%s", why) : 0;
}

int endpoint_list_parse(const char *s, uint16_t default_port, endpoint_list_t *ret,
                        char *err, size_t err_len) {
        endpoint_list_t l = { 0 };
        size_t cap = 0, index = 0;
        char shown[80];
        int r;

        if (!s)
                return s_fail(err, err_len, "no endpoint list");

        const char *p = s;
        for (;;) {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p == '\0')
                        break;
                index++;
                if (*p == ',') {
                        r = s_fail(err, err_len, "element %zu: empty (stray ',')", index);
                        goto fail;
                }

                const char *start = p;
                while (*p && !s_is_separator(*p))
                        p++;
                size_t n = (size_t) (p - start);
                char elem[ELEMENT_MAX + 2];
                endpoint_t e;
                const char *why = n > ELEMENT_MAX ? "too long" : NULL;
                if (!why) {
                        memcpy(elem, start, n);
                        elem[n] = '\0';
                        why = s_parse(elem, default_port, &e);
                }
                if (why) {
                        r = s_fail(err, err_len, "element %zu '%s': %s", index,
                                   s_printable(start, n, shown, sizeof shown), why);
                        goto fail;
                }
                for (size_t i = 0; i < l.n; i++)
                        if (endpoint_equal(&l.items[i], &e)) {
                                r = s_fail(err, err_len, "element %zu '%s': duplicate of element %zu",
                                           index, s_printable(start, n, shown, sizeof shown), i + 1);
                                goto fail;
                        }
                if (l.n == cap) {
                        size_t ncap = cap ? cap * 2 : 4;
                        endpoint_t *items = reallocarray(l.items, ncap, sizeof *items);
                        if (!items) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        l.items = items;
                        cap = ncap;
                }
                l.items[l.n++] = e;

                /* One comma at most between elements, with any blanks
                 * around it; a comma must be followed by an element. */
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p == ',') {
                        p++;
                        while (*p == ' ' || *p == '\t')
                                p++;
                        if (*p == '\0') {
                                r = s_fail(err, err_len, "element %zu: empty (trailing ',')",
                                           index + 1);
                                goto fail;
                        }
                }
        }
        if (l.n == 0) {
                r = s_fail(err, err_len, "empty endpoint list");
                goto fail;
        }
        *ret = l;
        return 0;

fail:
        endpoint_list_free(&l);
        return r;
}

void endpoint_list_free(endpoint_list_t *list) {
        if (!list)
                return;
        free(list->items);
        list->items = NULL;
        list->n = 0;
}

bool endpoint_equal(const endpoint_t *a, const endpoint_t *b) {
        if (a->kind != b->kind || a->port != b->port)
                return false;
        if (a->kind == ENDPOINT_IPV6) {
                struct in6_addr x, y;
                if (inet_pton(AF_INET6, a->host, &x) != 1 || inet_pton(AF_INET6, b->host, &y) != 1)
                        return false;
                return memcmp(&x, &y, sizeof x) == 0;
        }
        return strcasecmp(a->host, b->host) == 0;
}

bool endpoint_list_equal(const endpoint_list_t *a, const endpoint_list_t *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!endpoint_equal(&a->items[i], &b->items[i]))
                        return false;
        return true;
}

int endpoint_list_format(const endpoint_list_t *list, endpoint_format_t format, char **ret) {
        bool with_port = !(format & ENDPOINT_FORMAT_NO_PORT);
        char sep = (format & ENDPOINT_FORMAT_COMMA) ? ',' : ' ';
        size_t cap = 1, len = 0;

        if (!list || list->n == 0)
                return -EINVAL;
        for (size_t i = 0; i < list->n; i++)
                cap += strlen(list->items[i].host) + sizeof "[]:65535,";

        char *out = malloc(cap);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < list->n; i++) {
                const endpoint_t *e = &list->items[i];
                bool brackets = with_port && e->kind == ENDPOINT_IPV6;
                len += (size_t) snprintf(out + len, cap - len, "%s%s%s%s", i > 0 ? (char[]) { sep, 0 } : "",
                                         brackets ? "[" : "", e->host, brackets ? "]" : "");
                if (with_port)
                        len += (size_t) snprintf(out + len, cap - len, ":%u", (unsigned) e->port);
        }
        *ret = out;
        return 0;
}
