/* Endpoint lists: "host:port" elements, as written in service configs
 * (Contrail's `[CONTROL-NODE] servers=10.0.0.1:5269 10.0.0.2:5269`,
 * `[DEFAULT] collectors=...`, `[DNS] servers=...`).
 *
 * A host is an IPv4 literal (dotted quad, no leading zeros), an IPv6 literal
 * in brackets ("[fd00::1]:5269"), or a DNS name of RFC 1123 labels (1..63 of
 * [A-Za-z0-9-], not starting or ending with '-', 253 characters at most, the
 * last label not all digits so that "10.0.0.300" is a bad address, not a
 * name; no trailing dot). A port is 1..65535 in decimal, without leading
 * zeros or sign.
 *
 * A list is one or more elements separated by commas and/or whitespace
 * ("a:1,b:2", "a:1 b:2", "a:1, b:2"); empty elements ("a:1,,b:2", a leading
 * or trailing comma) are errors, and so is the same endpoint twice (hosts
 * compared case-insensitively, IPv6 by address: "[::1]:1" and
 * "[0::1]:1" are the same).
 *
 * Parse errors are written to the caller's buffer as one line naming the
 * element and the reason: "element 2 '10.0.0.300:5269': bad IPv4 address". */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/attrs.h"

#define ENDPOINT_HOST_MAX 253

typedef enum {
        ENDPOINT_IPV4,
        ENDPOINT_IPV6,
        ENDPOINT_DNS,
} endpoint_kind_t;

typedef struct {
        endpoint_kind_t kind;
        char host[ENDPOINT_HOST_MAX + 1]; /* as written; IPv6 without brackets */
        uint16_t port;
} endpoint_t;

typedef struct {
        endpoint_t *items;  /* owned */
        size_t n;
} endpoint_list_t;

/* Parses one element. default_port 0 means the port is required; otherwise
 * an element without one ("10.0.0.1", "[fd00::1]", or a bare "fd00::1")
 * gets default_port. Returns 0 and fills *ret, or -EINVAL with the reason
 * in err (if err_len > 0). */
HL_MUST_USE int endpoint_parse(const char *s, uint16_t default_port, endpoint_t *ret, char *err,
                               size_t err_len);

/* Parses a port alone (1..65535, decimal, no leading zeros or sign).
 * Returns 0 and fills *ret, or -EINVAL with the reason in err. */
HL_MUST_USE int endpoint_parse_port(const char *s, uint16_t *ret, char *err, size_t err_len);

/* Parses a list (see above). On success *ret owns a non-empty array: free
 * with endpoint_list_free. Returns -EINVAL (reason in err), -ENOMEM. */
HL_MUST_USE int endpoint_list_parse(const char *s, uint16_t default_port, endpoint_list_t *ret,
                                    char *err, size_t err_len);

/* Frees the items and zeroes the list; accepts an already freed list. */
void endpoint_list_free(endpoint_list_t *list);

/* Same kind of host, same host (case-insensitive; IPv6 by address), same
 * port. */
bool endpoint_equal(const endpoint_t *a, const endpoint_t *b);

/* Same endpoints in the same order. Order matters: services try servers in
 * the order given. */
bool endpoint_list_equal(const endpoint_list_t *a, const endpoint_list_t *b);

typedef enum {
        ENDPOINT_FORMAT_SPACE   = 0,      /* "a:1 b:2" */
        ENDPOINT_FORMAT_COMMA   = 1 << 0, /* "a:1,b:2" */
        ENDPOINT_FORMAT_NO_PORT = 1 << 1, /* hosts only: "a b"; IPv6 bare */
} endpoint_format_t;

/* Formats a list the way a config key wants it. IPv6 hosts are bracketed
 * when a port follows and bare otherwise ("fd00::1"), as hosts-only keys
 * expect. Returns 0 with a malloc'd string in *ret, -EINVAL on an empty
 * list, -ENOMEM. */
HL_MUST_USE int endpoint_list_format(const endpoint_list_t *list, endpoint_format_t format, char **ret);
