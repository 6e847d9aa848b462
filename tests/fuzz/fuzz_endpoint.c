/* Endpoint lists from service configs (operator input), parsed with and
 * without a default port. Whatever parses must format and parse back to
 * an equal list, in every format; errors are one printable line. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/endpoint.h"
#include "tests/fuzz/fuzz_common.h"

#define DEFAULT_PORT 5269

static void check_err(const char *err, size_t len) {
        size_t n = strnlen(err, len);
        FUZZ_CHECK(n > 0 && n < len);
        for (size_t i = 0; i < n; i++)
                FUZZ_CHECK((unsigned char) err[i] >= 0x20 && (unsigned char) err[i] < 0x7f);
}

static void check_endpoint(const endpoint_t *e, uint16_t default_port) {
        size_t n = strnlen(e->host, sizeof e->host);
        FUZZ_CHECK(n > 0 && n <= ENDPOINT_HOST_MAX);
        FUZZ_CHECK(e->port != 0);
        FUZZ_CHECK(e->kind == ENDPOINT_IPV4 || e->kind == ENDPOINT_IPV6 || e->kind == ENDPOINT_DNS);
        FUZZ_CHECK(endpoint_equal(e, e));
        (void) default_port;
}

/* format -> parse gives the same list. NO_PORT loses the ports, so it is
 * checked only when every port is the default it will be read back with. */
static void check_format(const endpoint_list_t *l, endpoint_format_t fmt, uint16_t default_port) {
        endpoint_list_t back = { 0 };
        char *s = NULL, err[256];
        int r;

        FUZZ_CHECK(endpoint_list_format(l, fmt, &s) == 0 && s != NULL);
        r = endpoint_list_parse(s, default_port, &back, err, sizeof err);
        if (r != 0) {
                fprintf(stderr, "formatted '%s' does not parse: %s\n", s, err);
                abort();
        }
        if (!endpoint_list_equal(l, &back)) {
                fprintf(stderr, "formatted '%s' parses to another list\n", s);
                abort();
        }
        /* Each element also parses on its own to the same endpoint. */
        for (size_t i = 0; i < back.n; i++) {
                endpoint_t one;
                char elem[ENDPOINT_HOST_MAX + 16];
                const endpoint_t *e = &back.items[i];
                if (fmt & ENDPOINT_FORMAT_NO_PORT)
                        snprintf(elem, sizeof elem, "%s", e->host);
                else if (e->kind == ENDPOINT_IPV6)
                        snprintf(elem, sizeof elem, "[%s]:%u", e->host, (unsigned) e->port);
                else
                        snprintf(elem, sizeof elem, "%s:%u", e->host, (unsigned) e->port);
                FUZZ_CHECK(endpoint_parse(elem, default_port, &one, err, sizeof err) == 0);
                FUZZ_CHECK(endpoint_equal(&one, e));
        }
        endpoint_list_free(&back);
        free(s);
}

static void check_list(const char *s, uint16_t default_port) {
        endpoint_list_t l = { 0 };
        char err[128];

        err[0] = '\0';
        int r = endpoint_list_parse(s, default_port, &l, err, sizeof err);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL);
                FUZZ_CHECK(l.items == NULL && l.n == 0);
                check_err(err, sizeof err);
                return;
        }
        FUZZ_CHECK(r == 0 && l.n > 0 && l.items != NULL);
        for (size_t i = 0; i < l.n; i++) {
                check_endpoint(&l.items[i], default_port);
                for (size_t j = 0; j < i; j++)
                        FUZZ_CHECK(!endpoint_equal(&l.items[i], &l.items[j]));
        }
        FUZZ_CHECK(endpoint_list_equal(&l, &l));

        check_format(&l, ENDPOINT_FORMAT_SPACE, default_port);
        check_format(&l, ENDPOINT_FORMAT_COMMA, default_port);
        /* Formatted with ports, the list also reads back without a default. */
        check_format(&l, ENDPOINT_FORMAT_COMMA, 0);

        bool all_default = true;
        for (size_t i = 0; i < l.n; i++)
                all_default = all_default && l.items[i].port == DEFAULT_PORT;
        if (all_default) {
                check_format(&l, ENDPOINT_FORMAT_NO_PORT, DEFAULT_PORT);
                check_format(&l, ENDPOINT_FORMAT_NO_PORT | ENDPOINT_FORMAT_COMMA, DEFAULT_PORT);
        }
        endpoint_list_free(&l);
        FUZZ_CHECK(l.items == NULL && l.n == 0);
        endpoint_list_free(&l);
}

static void check_one(const char *s, uint16_t default_port) {
        endpoint_t e;
        char err[128];

        err[0] = '\0';
        if (endpoint_parse(s, default_port, &e, err, sizeof err) == 0)
                check_endpoint(&e, default_port);
        else
                check_err(err, sizeof err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = strndup((const char *) data, size);
        if (!s)
                return 0;
        check_list(s, 0);
        check_list(s, DEFAULT_PORT);
        check_one(s, 0);
        check_one(s, DEFAULT_PORT);
        free(s);
        return 0;
}
