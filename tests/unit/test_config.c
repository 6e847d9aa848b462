/* agent/agent_config and coordinator/coord_config, both on common/conf:
 * defaults, typed values, and the "FILE:LINE: KEY: message" report that
 * --check-config prints. Every test writes real files in its own
 * temporary directory. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_config.h"
#include "common/codec.h"
#include "common/keys.h"
#include "coordinator/coord_config.h"

static char tmpdir[256];

static void setup(void) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/test_config.XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
}

/* Writes tmpdir/name with mode and returns its path (static buffer
 * rotated between 4 calls). */
static const char *write_conf_mode(const char *name, mode_t mode, const char *content) {
        static char paths[4][400];
        static int next;
        char *p = paths[next++ % 4];
        snprintf(p, 400, "%s/%s", tmpdir, name);
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs(content, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(p, mode), 0);
        return p;
}

static const char *write_conf(const char *name, const char *content) {
        return write_conf_mode(name, 0644, content);
}

/* ---- report helpers ---- */

static void dump(const conf_report_t *r) {
        for (size_t i = 0; i < r->n_lines; i++)
                fprintf(stderr, "  report[%zu]: %s\n", i, r->lines[i]);
}

/* Asserts that the report holds exactly the line "PATH:LINE: rest". */
static void assert_line(const conf_report_t *r, const char *path, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void assert_line(const conf_report_t *r, const char *path, int line, const char *fmt, ...) {
        char rest[1024], want[1600];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rest, sizeof rest, fmt, ap);
        va_end(ap);
        if (line > 0)
                snprintf(want, sizeof want, "%s:%d: %s", path, line, rest);
        else
                snprintf(want, sizeof want, "%s: %s", path, rest);
        for (size_t i = 0; i < r->n_lines; i++)
                if (strcmp(r->lines[i], want) == 0)
                        return;
        dump(r);
        ck_abort_msg("report lacks the line: %s", want);
}

static int agent_load(const char *path, agent_config_t **c, conf_report_t *r) {
        *c = NULL;
        conf_report_init(r, path);
        return agent_config_load(path, c, r);
}

static agent_config_t *agent_load_ok(const char *path) {
        agent_config_t *c = NULL;
        conf_report_t r;
        int e = agent_load(path, &c, &r);
        if (e != 0)
                dump(&r);
        ck_assert_int_eq(e, 0);
        ck_assert_uint_eq(r.n_lines, 0);
        ck_assert_ptr_nonnull(c);
        conf_report_free(&r);
        return c;
}

/* Loads a config expected to fail with -EINVAL and n_lines errors; the
 * caller checks lines and frees r. */
static void agent_load_fails(const char *path, size_t n_lines, conf_report_t *r) {
        agent_config_t *c = NULL;
        int e = agent_load(path, &c, r);
        if (e != -EINVAL || r->n_lines != n_lines)
                dump(r);
        ck_assert_int_eq(e, -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_uint_eq(r->n_lines, n_lines);
}

static int coord_load(const char *path, coord_config_t **c, conf_report_t *r) {
        *c = NULL;
        conf_report_init(r, path);
        return coord_config_load(path, c, r);
}

static coord_config_t *coord_load_ok(const char *path) {
        coord_config_t *c = NULL;
        conf_report_t r;
        int e = coord_load(path, &c, &r);
        if (e != 0)
                dump(&r);
        ck_assert_int_eq(e, 0);
        ck_assert_uint_eq(r.n_lines, 0);
        conf_report_free(&r);
        return c;
}

static void coord_load_fails(const char *path, size_t n_lines, conf_report_t *r) {
        coord_config_t *c = NULL;
        int e = coord_load(path, &c, r);
        if (e != -EINVAL || r->n_lines != n_lines)
                dump(r);
        ck_assert_int_eq(e, -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_uint_eq(r->n_lines, n_lines);
}

/* A config made of fmt with value for its one %s must fail to load (as an
 * agent.conf or a coordinator.conf, by name) with exactly one line,
 * "PATH:LINE: KEY: msg". */
static void assert_refused(const char *name, const char *fmt, const char *value, int line,
                           const char *key, const char *msg) {
        char conf[400];
        conf_report_t r;
        snprintf(conf, sizeof conf, fmt, value);
        const char *p = write_conf(name, conf);
        if (strcmp(name, "agent.conf") == 0)
                agent_load_fails(p, 1, &r);
        else
                coord_load_fails(p, 1, &r);
        assert_line(&r, p, line, "%s: %s", key, msg);
        conf_report_free(&r);
}

#define DURATION_MSG "must be a duration: seconds, or a string like \"500ms\", \"5s\", \"2m\""

/* ---- agent: defaults and values ---- */

START_TEST(test_agent_defaults) {
        const char *p = write_conf("agent.conf", "hostname = \"web1.example.com\";\n");
        agent_config_t *c = agent_load_ok(p);

        ck_assert_str_eq(c->path, p);
        ck_assert_str_eq(c->hostname, "web1.example.com");
        ck_assert_str_eq(c->node_id, "web1");  /* the short hostname */
        ck_assert_ptr_nonnull(c->roles);
        ck_assert_ptr_null(c->roles[0]);
        ck_assert_ptr_nonnull(c->packages);
        ck_assert_ptr_null(c->packages[0]);
        ck_assert_ptr_null(c->coordinator_endpoint);
        ck_assert_ptr_null(c->coordinator_public_key);
        ck_assert_str_eq(c->secret_key_file, "/etc/hitless/agent.key_secret");
        ck_assert_str_eq(c->state_dir, "/var/lib/hitless/agent");
        ck_assert_ptr_null(c->system_bus_address);
        ck_assert_ptr_null(c->dpkg_admindir);
        ck_assert_int_eq(c->heartbeat_interval_ms, 5000);
        ck_assert_int_eq(c->max_message_bytes, HITLESS_MAX_MESSAGE_BYTES);
        ck_assert_str_eq(c->package_backend, "auto");
        ck_assert_uint_eq(c->n_checks, 0);
        ck_assert(!agent_config_has_coordinator(c));
        agent_config_free(&c);
        ck_assert_ptr_null(c);
        agent_config_free(&c);  /* accepts NULL */
}
END_TEST

START_TEST(test_agent_values) {
        const char *p = write_conf("agent.conf",
                "node_id = \"db-2\";\n"
                "hostname = \"db2.example.com\";\n"
                "roles = [\"db\", \"primary\"];\n"
                "coordinator = { endpoint = \"tcp://10.0.0.1:7400\";"
                " public_key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"; };\n"
                "secret_key_file = \"/srv/keys/db2.key_secret\";\n"
                "state_dir = \"/srv/state\";\n"
                "system_bus_address = \"unix:path=/tmp/bus\";\n"
                "heartbeat_interval = \"2s\";\n"
                "max_message_bytes = 65536;\n"
                "package_backend = \"apt\";\n"
                "dpkg_admindir = \"/srv/dpkg\";\n"
                "packages = (\"postgresql-15\", \"pgbouncer\");\n");
        agent_config_t *c = agent_load_ok(p);

        ck_assert_str_eq(c->node_id, "db-2");
        ck_assert_str_eq(c->hostname, "db2.example.com");
        ck_assert_uint_eq(conf_strv_len(c->roles), 2);
        ck_assert_str_eq(c->roles[0], "db");
        ck_assert_str_eq(c->roles[1], "primary");
        ck_assert_str_eq(c->coordinator_endpoint, "tcp://10.0.0.1:7400");
        ck_assert_str_eq(c->coordinator_public_key, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
        ck_assert_str_eq(c->secret_key_file, "/srv/keys/db2.key_secret");
        ck_assert_str_eq(c->state_dir, "/srv/state");
        ck_assert_str_eq(c->system_bus_address, "unix:path=/tmp/bus");
        ck_assert_int_eq(c->heartbeat_interval_ms, 2000);
        ck_assert_int_eq(c->max_message_bytes, 65536);
        ck_assert_str_eq(c->package_backend, "apt");
        ck_assert_str_eq(c->dpkg_admindir, "/srv/dpkg");
        ck_assert_uint_eq(conf_strv_len(c->packages), 2);
        ck_assert_str_eq(c->packages[0], "postgresql-15");
        ck_assert_str_eq(c->packages[1], "pgbouncer");
        ck_assert(agent_config_has_coordinator(c));
        agent_config_free(&c);
}
END_TEST

START_TEST(test_agent_has_coordinator) {
        static const struct {
                const char *conf;
                bool want;
        } cases[] = {
                { "node_id = \"n\";\n", false },
                { "node_id = \"n\";\ncoordinator = { };\n", false },
                { "node_id = \"n\";\ncoordinator = { endpoint = \"tcp://127.0.0.1:7400\"; };\n", false },
                { "node_id = \"n\";\ncoordinator = { public_key = \"0000000000000000000000000000000000000000\"; };\n",
                  false },
                { "node_id = \"n\";\ncoordinator = { endpoint = \"tcp://127.0.0.1:7400\";"
                  " public_key = \"0000000000000000000000000000000000000000\"; };\n", true },
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                agent_config_t *c = agent_load_ok(write_conf("agent.conf", cases[i].conf));
                ck_assert_msg(agent_config_has_coordinator(c) == cases[i].want, "case %zu", i);
                agent_config_free(&c);
        }
}
END_TEST

/* ---- agent: exact error lines ---- */

START_TEST(test_agent_error_unknown_key) {
        conf_report_t r;
        const char *p = write_conf("agent.conf", "node_id = \"n\";\n\nheartbeat_intervall = 5;\n");
        agent_load_fails(p, 1, &r);
        assert_line(&r, p, 3, "heartbeat_intervall: unknown key");
        conf_report_free(&r);

        p = write_conf("agent.conf", "node_id = \"n\";\ncoordinator = { endpoint = \"tcp://h:1\"; key = \"x\"; };\n");
        agent_load_fails(p, 1, &r);
        assert_line(&r, p, 2, "coordinator.key: unknown key");
        conf_report_free(&r);
}
END_TEST

START_TEST(test_agent_error_wrong_type) {
        conf_report_t r;
        const char *p = write_conf("agent.conf",
                "node_id = 5;\n"
                "max_message_bytes = \"64k\";\n"
                "roles = \"web\";\n"
                "packages = [1, 2];\n");
        agent_load_fails(p, 4, &r);
        assert_line(&r, p, 1, "node_id: must be a string");
        assert_line(&r, p, 2, "max_message_bytes: must be an integer");
        assert_line(&r, p, 3, "roles: must be a list of strings, like [\"a\", \"b\"]");
        assert_line(&r, p, 4, "packages.[0]: must be a string");
        conf_report_free(&r);
}
END_TEST

START_TEST(test_agent_error_out_of_range) {
        conf_report_t r;
        const char *p = write_conf("agent.conf", "node_id = \"n\";\nmax_message_bytes = 100;\n");
        agent_load_fails(p, 1, &r);
        assert_line(&r, p, 2, "max_message_bytes: 100 is out of range [4096, 67108864]");
        conf_report_free(&r);
}
END_TEST

START_TEST(test_agent_error_bad_duration) {
        conf_report_t r;
        const char *p = write_conf("agent.conf", "node_id = \"n\";\nheartbeat_interval = \"5 parsecs\";\n");
        agent_load_fails(p, 1, &r);
        assert_line(&r, p, 2, "heartbeat_interval: " DURATION_MSG);
        conf_report_free(&r);

        p = write_conf("agent.conf", "node_id = \"n\";\nheartbeat_interval = \"50ms\";\n");
        agent_load_fails(p, 1, &r);
        assert_line(&r, p, 2, "heartbeat_interval: 50ms is out of range [100ms, 3600000ms]");
        conf_report_free(&r);
}
END_TEST

START_TEST(test_agent_error_missing_required) {
        conf_report_t r;
        const char *p = write_conf("agent.conf",
                "node_id = \"n\";\n"
                "checks = (\n"
                "  { kind = \"unit\"; unit = \"nginx.service\"; },\n"
                "  { name = \"x\"; }\n"
                ");\n");
        agent_load_fails(p, 2, &r);
        assert_line(&r, p, 3, "checks.[0].name: missing (required)");
        assert_line(&r, p, 4, "checks.[1].kind: missing (required)");
        conf_report_free(&r);
}
END_TEST

START_TEST(test_agent_error_syntax) {
        conf_report_t r;
        const char *p = write_conf("agent.conf", "node_id = \"n\";\n\n\nroles = [\"a\", ;\n");
        agent_load_fails(p, 1, &r);
        assert_line(&r, p, 4, "syntax error");  /* not "syntax error: syntax error" */
        conf_report_free(&r);
}
END_TEST

START_TEST(test_agent_error_missing_file) {
        char p[400];
        conf_report_t r;
        agent_config_t *c = NULL;
        snprintf(p, sizeof p, "%s/absent.conf", tmpdir);
        ck_assert_int_eq(agent_load(p, &c, &r), -ENOENT);
        ck_assert_ptr_null(c);
        ck_assert_uint_eq(r.n_lines, 1);
        assert_line(&r, p, 0, "cannot read config file: No such file or directory");
        conf_report_free(&r);
}
END_TEST

START_TEST(test_agent_errors_all_collected) {
        conf_report_t r;
        const char *p = write_conf("agent.conf",
                "node_id = \"not a node id\";\n"
                "colour = \"blue\";\n"
                "heartbeat_interval = \"soon\";\n"
                "hostname = \"h\";\n");
        agent_load_fails(p, 3, &r);
        /* Each names its own line. */
        assert_line(&r, p, 1, "node_id: must be 1-63 of [A-Za-z0-9._-]");
        assert_line(&r, p, 2, "colour: unknown key");
        assert_line(&r, p, 3, "heartbeat_interval: " DURATION_MSG);
        conf_report_free(&r);
}
END_TEST

START_TEST(test_agent_values_validated) {
        conf_report_t r;
        const char *p = write_conf("agent.conf",
                "node_id = \"-bad\";\n"
                "roles = [\"web\", \"no spaces\"];\n"
                "package_backend = \"yum\";\n"
                "coordinator = { endpoint = \"udp://h:1\"; };\n");
        agent_load_fails(p, 4, &r);
        assert_line(&r, p, 1, "node_id: must be 1-63 of [A-Za-z0-9._-]");
        assert_line(&r, p, 2, "roles: role \"no spaces\" must be 1-63 of [A-Za-z0-9._-]");
        assert_line(&r, p, 3, "package_backend: must be \"apt\", \"dnf\" or \"auto\"");
        assert_line(&r, p, 4, "coordinator.endpoint: must be tcp://HOST:PORT");
        conf_report_free(&r);
}
END_TEST

START_TEST(test_agent_metrics_textfile_validated) {
        conf_report_t r;
        const char *p = write_conf("agent.conf",
                "node_id = \"n1\";\n"
                "metrics_textfile = \"relative/hitless.prom\";\n");
        agent_load_fails(p, 1, &r);
        assert_line(&r, p, 2, "metrics_textfile: must be an absolute path ending in .prom (node_exporter's "
                              "textfile collector reads only those)");
        conf_report_free(&r);
        p = write_conf("agent.conf", "metrics_textfile = \"/var/lib/node_exporter/hitless.txt\";\n");
        agent_load_fails(p, 1, &r);
        conf_report_free(&r);
}
END_TEST

START_TEST(test_agent_default_node_id_validated) {
        conf_report_t r;
        const char *p = write_conf("agent.conf", "hostname = \"bad host.example.com\";\n");
        agent_load_fails(p, 1, &r);
        assert_line(&r, p, 0,
                    "node_id: the default (hostname \"bad host.example.com\") is not a valid node id; set node_id");
        conf_report_free(&r);

        /* Setting node_id fixes it. */
        p = write_conf("agent.conf", "hostname = \"bad host.example.com\";\nnode_id = \"web-1\";\n");
        agent_config_t *c = agent_load_ok(p);
        ck_assert_str_eq(c->node_id, "web-1");
        agent_config_free(&c);
}
END_TEST

/* ---- durations ---- */

START_TEST(test_agent_durations) {
        static const struct {
                const char *value;
                int64_t ms;
        } cases[] = {
                { "\"500ms\"", 500 }, { "\"5s\"", 5000 }, { "\"2m\"", 120000 }, { "\"1h\"", 3600000 },
                { "7", 7000 }, { "\"7\"", 7000 }, { "\"1.5s\"", 1500 }, { "3600", 3600000 },
                { "60L", 60000 },
        };
        char conf[200];
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                snprintf(conf, sizeof conf, "node_id = \"n\";\nheartbeat_interval = %s;\n", cases[i].value);
                agent_config_t *c = agent_load_ok(write_conf("agent.conf", conf));
                ck_assert_msg(c->heartbeat_interval_ms == cases[i].ms, "%s -> %lld", cases[i].value,
                              (long long) c->heartbeat_interval_ms);
                agent_config_free(&c);
        }
}
END_TEST

START_TEST(test_agent_durations_refused) {
        static const struct {
                const char *value;
                const char *msg;
        } cases[] = {
                { "\"2h\"", "7200000ms is out of range [100ms, 3600000ms]" },
                { "0", "0ms is out of range [100ms, 3600000ms]" },
                { "-5", "-5000ms is out of range [100ms, 3600000ms]" },
                { "\"-1s\"", DURATION_MSG },
                { "\"5x\"", DURATION_MSG },
                { "\"\"", DURATION_MSG },
                { "\"ms\"", DURATION_MSG },
                { "\"nan\"", DURATION_MSG },
                { "1.5", DURATION_MSG },
                { "true", DURATION_MSG },
                /* Seconds whose milliseconds do not fit in 64 bits must not
                 * wrap around into the valid range (this one wraps to 384). */
                { "18446744073709552L", "9223372036854775807ms is out of range [100ms, 3600000ms]" },
                { "-9223372036854775807L", "-9223372036854775808ms is out of range [100ms, 3600000ms]" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
                assert_refused("agent.conf", "node_id = \"n\";\nheartbeat_interval = %s;\n", cases[i].value, 2,
                               "heartbeat_interval", cases[i].msg);
}
END_TEST

START_TEST(test_parse_duration) {
        static const struct {
                const char *s;
                int r;
                int64_t ms;
        } cases[] = {
                { "500ms", 0, 500 }, { "5s", 0, 5000 }, { "5", 0, 5000 }, { "2m", 0, 120000 },
                { "1h", 0, 3600000 }, { "1d", 0, 86400000 }, { "0.5s", 0, 500 }, { "0", 0, 0 },
                { "", -EINVAL, 0 }, { "s", -EINVAL, 0 }, { "5 s", -EINVAL, 0 }, { "5sec", -EINVAL, 0 },
                { "5S", -EINVAL, 0 }, { "-1", -EINVAL, 0 }, { "nan", -EINVAL, 0 }, { "nanms", -EINVAL, 0 },
                { "inf", -EINVAL, 0 }, { "1e300h", -EINVAL, 0 }, { "1e400", -EINVAL, 0 },
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                int64_t ms = -12345;
                int r = conf_parse_duration_ms(cases[i].s, &ms);
                ck_assert_msg(r == cases[i].r, "\"%s\": %d", cases[i].s, r);
                ck_assert_msg(ms == (r == 0 ? cases[i].ms : -12345), "\"%s\": %lld", cases[i].s, (long long) ms);
        }
}
END_TEST

/* ---- agent: file protection ---- */

START_TEST(test_agent_refuses_writable_config) {
        static const mode_t bad[] = { 0666, 0664, 0646, 0620, 0602 };
        char want[600];
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                conf_report_t r;
                agent_config_t *c = NULL;
                const char *p = write_conf_mode("agent.conf", bad[i], "node_id = \"n\";\n");
                ck_assert_int_eq(agent_load(p, &c, &r), -EPERM);
                ck_assert_ptr_null(c);
                ck_assert_uint_eq(r.n_lines, 1);
                snprintf(want, sizeof want,
                         "%s: refusing a config writable by group or others (mode %04o); chmod go-w it", p,
                         (unsigned) bad[i]);
                ck_assert_str_eq(r.lines[0], want);
                conf_report_free(&r);
        }
}
END_TEST

START_TEST(test_agent_accepts_protected_config) {
        static const mode_t good[] = { 0644, 0600, 0444, 0640 };
        for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
                agent_config_t *c = agent_load_ok(write_conf_mode("agent.conf", good[i], "node_id = \"n\";\n"));
                ck_assert_str_eq(c->node_id, "n");
                agent_config_free(&c);
        }
}
END_TEST

/* ---- agent: checks ---- */

START_TEST(test_checks_each_kind) {
        const char *p = write_conf("agent.conf",
                "node_id = \"n\";\n"
                "checks = (\n"
                "  { name = \"svc\"; kind = \"unit\"; unit = \"nginx.service\"; },\n"
                "  { name = \"port\"; kind = \"tcp\"; host = \"127.0.0.1\"; port = 443; timeout = \"500ms\";"
                " critical = false; },\n"
                "  { name = \"web\"; kind = \"http\"; host = \"localhost\"; port = 8080; },\n"
                "  { name = \"api\"; kind = \"http\"; host = \"::1\"; port = 80; path = \"/healthz\";"
                " expect = \"ok\"; timeout = 3; },\n"
                "  { name = \"script\"; kind = \"exec\"; argv = [\"/usr/bin/test\", \"-f\", \"/x\"]; }\n"
                ");\n");
        agent_config_t *c = agent_load_ok(p);
        const check_config_t *k = c->checks;

        ck_assert_uint_eq(c->n_checks, 5);
        ck_assert_str_eq(k[0].name, "svc");
        ck_assert_int_eq(k[0].kind, CHECK_UNIT);
        ck_assert_str_eq(k[0].unit, "nginx.service");
        ck_assert_int_eq(k[0].timeout_ms, 2000);
        ck_assert(k[0].critical);

        ck_assert_str_eq(k[1].name, "port");
        ck_assert_int_eq(k[1].kind, CHECK_TCP);
        ck_assert_str_eq(k[1].host, "127.0.0.1");
        ck_assert_int_eq(k[1].port, 443);
        ck_assert_int_eq(k[1].timeout_ms, 500);
        ck_assert(!k[1].critical);

        ck_assert_int_eq(k[2].kind, CHECK_HTTP);
        ck_assert_str_eq(k[2].host, "localhost");
        ck_assert_int_eq(k[2].port, 8080);
        ck_assert_str_eq(k[2].path, "/");  /* default */
        ck_assert_ptr_null(k[2].expect);

        ck_assert_int_eq(k[3].kind, CHECK_HTTP);
        ck_assert_str_eq(k[3].path, "/healthz");
        ck_assert_str_eq(k[3].expect, "ok");
        ck_assert_int_eq(k[3].timeout_ms, 3000);

        ck_assert_str_eq(k[4].name, "script");
        ck_assert_int_eq(k[4].kind, CHECK_EXEC);
        ck_assert_uint_eq(conf_strv_len(k[4].argv), 3);
        ck_assert_str_eq(k[4].argv[0], "/usr/bin/test");
        ck_assert_str_eq(k[4].argv[2], "/x");
        ck_assert_ptr_null(k[4].argv[3]);

        ck_assert_str_eq(check_kind_name(CHECK_UNIT), "unit");
        ck_assert_str_eq(check_kind_name(CHECK_TCP), "tcp");
        ck_assert_str_eq(check_kind_name(CHECK_HTTP), "http");
        ck_assert_str_eq(check_kind_name(CHECK_EXEC), "exec");
        ck_assert_str_eq(check_kind_name((check_kind_t) 99), "unknown");
        agent_config_free(&c);
}
END_TEST

START_TEST(test_checks_duplicate_names) {
        conf_report_t r;
        const char *p = write_conf("agent.conf",
                "node_id = \"n\";\n"
                "checks = (\n"
                "  { name = \"a\"; kind = \"unit\"; unit = \"a.service\"; },\n"
                "  { name = \"b\"; kind = \"unit\"; unit = \"b.service\"; },\n"
                "  { name = \"a\"; kind = \"tcp\"; host = \"h\"; port = 1; }\n"
                ");\n");
        agent_load_fails(p, 1, &r);
        assert_line(&r, p, 5, "checks.[2].name: duplicate check name \"a\"");
        conf_report_free(&r);
}
END_TEST

START_TEST(test_checks_keys_of_another_kind) {
        conf_report_t r;
        const char *p = write_conf("agent.conf",
                "node_id = \"n\";\n"
                "checks = (\n"
                "  { name = \"a\"; kind = \"tcp\"; host = \"h\"; port = 1; unit = \"x.service\"; },\n"
                "  { name = \"b\"; kind = \"unit\"; unit = \"b.service\"; host = \"h\"; port = 2; },\n"
                "  { name = \"c\"; kind = \"exec\"; argv = [\"/bin/true\"]; path = \"/x\"; },\n"
                "  { name = \"d\"; kind = \"http\"; host = \"h\"; port = 3; argv = [\"/bin/true\"]; },\n"
                "  { name = \"e\"; kind = \"tcp\"; host = \"h\"; port = 4; expect = \"ok\"; }\n"
                ");\n");
        agent_load_fails(p, 6, &r);
        assert_line(&r, p, 3, "checks.[0].unit: not used by a \"tcp\" check");
        assert_line(&r, p, 4, "checks.[1].host: not used by a \"unit\" check");
        assert_line(&r, p, 4, "checks.[1].port: not used by a \"unit\" check");
        assert_line(&r, p, 5, "checks.[2].path: not used by a \"exec\" check");
        assert_line(&r, p, 6, "checks.[3].argv: not used by a \"http\" check");
        assert_line(&r, p, 7, "checks.[4].expect: not used by a \"tcp\" check");
        conf_report_free(&r);
}
END_TEST

START_TEST(test_checks_invalid) {
        conf_report_t r;
        const char *p = write_conf("agent.conf",
                "node_id = \"n\";\n"
                "checks = (\n"
                "  { name = \"a\"; kind = \"ping\"; },\n"
                "  { name = \"b\"; kind = \"tcp\"; port = 0; },\n"
                "  { name = \"c\"; kind = \"http\"; host = \"h\"; port = 70000; path = \"healthz\"; },\n"
                "  { name = \"d\"; kind = \"exec\"; argv = [\"bin/check\"]; },\n"
                "  { name = \"e\"; kind = \"exec\"; argv = []; },\n"
                "  { name = \"f\"; kind = \"unit\"; unit = \"u\"; timeout = \"2h\"; critical = \"yes\"; },\n"
                "  { name = \"g\"; kind = \"unit\"; unit = \"u\"; retries = 3; },\n"
                "  \"h\");\n");
        agent_load_fails(p, 11, &r);
        assert_line(&r, p, 3, "checks.[0].kind: unknown check kind \"ping\" (unit, tcp, http, exec)");
        assert_line(&r, p, 4, "checks.[1].host: missing (required)");
        assert_line(&r, p, 4, "checks.[1].port: 0 is out of range [1, 65535]");
        assert_line(&r, p, 5, "checks.[2].port: 70000 is out of range [1, 65535]");
        assert_line(&r, p, 5, "checks.[2].path: must start with '/'");
        assert_line(&r, p, 6, "checks.[3].argv: the program must be an absolute path");
        assert_line(&r, p, 7, "checks.[4].argv: must not be empty");
        assert_line(&r, p, 8, "checks.[5].timeout: 7200000ms is out of range [1ms, 3600000ms]");
        assert_line(&r, p, 8, "checks.[5].critical: must be true or false");
        assert_line(&r, p, 9, "checks.[6].retries: unknown key");
        assert_line(&r, p, 10, "checks.[7]: must be a group { name = ...; kind = ...; }");
        conf_report_free(&r);
}
END_TEST

START_TEST(test_checks_must_be_list) {
        conf_report_t r;
        const char *p = write_conf("agent.conf",
                "node_id = \"n\";\nchecks = { name = \"a\"; kind = \"unit\"; unit = \"u\"; };\n");
        agent_load_fails(p, 1, &r);
        assert_line(&r, p, 2, "checks: must be a list ( { ... }, { ... } )");
        conf_report_free(&r);
}
END_TEST

/* ---- agent: the coordinator's public key ---- */

START_TEST(test_coordinator_key_z85_or_file) {
        char pub[KEYS_Z85_LEN + 1], keydir[400], conf[1200];
        snprintf(keydir, sizeof keydir, "%s/keys", tmpdir);
        ck_assert_int_eq(keys_generate(keydir, "coordinator", pub), 0);

        /* As Z85 text. */
        snprintf(conf, sizeof conf,
                 "node_id = \"n\";\ncoordinator = { endpoint = \"tcp://127.0.0.1:7400\"; public_key = \"%s\"; };\n",
                 pub);
        agent_config_t *c = agent_load_ok(write_conf("agent.conf", conf));
        ck_assert_str_eq(c->coordinator_public_key, pub);
        agent_config_free(&c);

        /* As the path of the public key file, and of the secret one. */
        static const char *const files[] = { "coordinator.key", "coordinator.key_secret" };
        for (size_t i = 0; i < 2; i++) {
                snprintf(conf, sizeof conf,
                         "node_id = \"n\";\ncoordinator = { endpoint = \"tcp://127.0.0.1:7400\";"
                         " public_key = \"%s/%s\"; };\n", keydir, files[i]);
                c = agent_load_ok(write_conf("agent.conf", conf));
                ck_assert_str_eq(c->coordinator_public_key, pub);
                ck_assert(agent_config_has_coordinator(c));
                agent_config_free(&c);
        }
}
END_TEST

START_TEST(test_coordinator_key_invalid) {
        char conf[1200], garbage[400];
        conf_report_t r;

        snprintf(conf, sizeof conf,
                 "node_id = \"n\";\ncoordinator = { public_key = \"%s/none.key\"; };\n", tmpdir);
        const char *p = write_conf("agent.conf", conf);
        agent_load_fails(p, 1, &r);
        assert_line(&r, p, 2,
                    "coordinator.public_key: not a Z85 public key nor a readable key file: No such file or directory");
        conf_report_free(&r);

        snprintf(garbage, sizeof garbage, "%s/garbage.key", tmpdir);
        FILE *f = fopen(garbage, "w");
        ck_assert_ptr_nonnull(f);
        fputs("not a key\n", f);
        fclose(f);
        snprintf(conf, sizeof conf, "node_id = \"n\";\ncoordinator = { public_key = \"%s\"; };\n", garbage);
        p = write_conf("agent.conf", conf);
        agent_load_fails(p, 1, &r);
        assert_line(&r, p, 2, "coordinator.public_key: not a Z85 public key nor a readable key file: Invalid argument");
        conf_report_free(&r);
}
END_TEST

/* ---- coordinator ---- */

START_TEST(test_coord_defaults) {
        coord_config_t *c = coord_load_ok(write_conf("coordinator.conf", "# nothing set\n"));
        ck_assert_str_eq(c->listen, "tcp://*:7400");
        ck_assert_str_eq(c->secret_key_file, "/etc/hitless/coordinator.key_secret");
        ck_assert_str_eq(c->state_dir, "/var/lib/hitless/coordinator");
        ck_assert_str_eq(c->admin_socket, "/run/hitless/admin.sock");
        ck_assert_ptr_null(c->preapproved_keys_dir);
        ck_assert_int_eq(c->heartbeat_interval_ms, 5000);
        ck_assert_int_eq(c->node_timeout_ms, 15000);
        ck_assert_int_eq(c->max_message_bytes, HITLESS_MAX_MESSAGE_BYTES);
        ck_assert_int_eq(c->max_pending_keys, 1000);
        ck_assert(c->pending_keys_per_second == 10.0);
        ck_assert_int_eq(c->max_nodes, 10000);
        ck_assert_int_eq(c->state_min_free_mb, 64);
        ck_assert_int_eq(c->event_retention.max_days, 90);
        ck_assert_int_eq(c->event_retention.max_rows, 100000);
        ck_assert_ptr_null(c->http_listen);   /* no HTTP server */
        ck_assert(!c->http_allow_remote);
        coord_config_free(&c);
        ck_assert_ptr_null(c);
        coord_config_free(&c);
}
END_TEST

/* http_listen: loopback unless http_allow_remote says otherwise; the
 * error names file, line and key. */
START_TEST(test_coord_http_listen) {
        coord_config_t *c = coord_load_ok(write_conf("coordinator.conf", "http_listen = \"127.0.0.1:9735\";\n"));
        ck_assert_str_eq(c->http_listen, "127.0.0.1:9735");
        ck_assert_uint_eq(ntohs(c->http_addr.sin_port), 9735);
        coord_config_free(&c);
        c = coord_load_ok(write_conf("coordinator.conf",
                                     "http_listen = \"0.0.0.0:9735\";\nhttp_allow_remote = true;\n"));
        ck_assert(c->http_allow_remote);
        coord_config_free(&c);
        assert_refused("coordinator.conf", "# remote\nhttp_listen = \"%s\";\n", "0.0.0.0:9735", 2, "http_listen",
                       "0.0.0.0 is not a loopback address; set http_allow_remote = true to serve the fleet's "
                       "state beyond this host");
        assert_refused("coordinator.conf", "http_listen = \"%s\";\n", "127.0.0.1:web", 1, "http_listen",
                       "port 'web' is not a number from 0 to 65535");
}
END_TEST

START_TEST(test_coord_values) {
        const char *p = write_conf("coordinator.conf",
                "listen = \"tcp://127.0.0.1:7401\";\n"
                "secret_key_file = \"/srv/c.key_secret\";\n"
                "state_dir = \"/srv/state\";\n"
                "admin_socket = \"/srv/admin.sock\";\n"
                "preapproved_keys_dir = \"/srv/pre\";\n"
                "heartbeat_interval = \"500ms\";\n"
                "node_timeout = \"2m\";\n"
                "max_message_bytes = 4096;\n"
                "max_pending_keys = 5;\n"
                "pending_keys_per_second = 2;\n"
                "max_nodes = 20000;\n"
                "state_min_free_mb = 0;\n"
                "event_retention_days = 7;\n"
                "event_retention_max_rows = 5000;\n");
        coord_config_t *c = coord_load_ok(p);
        ck_assert_str_eq(c->path, p);
        ck_assert_str_eq(c->listen, "tcp://127.0.0.1:7401");
        ck_assert_str_eq(c->secret_key_file, "/srv/c.key_secret");
        ck_assert_str_eq(c->state_dir, "/srv/state");
        ck_assert_str_eq(c->admin_socket, "/srv/admin.sock");
        ck_assert_str_eq(c->preapproved_keys_dir, "/srv/pre");
        ck_assert_int_eq(c->heartbeat_interval_ms, 500);
        ck_assert_int_eq(c->node_timeout_ms, 120000);
        ck_assert_int_eq(c->max_message_bytes, 4096);
        ck_assert_int_eq(c->max_pending_keys, 5);
        ck_assert(c->pending_keys_per_second == 2.0);
        ck_assert_int_eq(c->max_nodes, 20000);
        ck_assert_int_eq(c->state_min_free_mb, 0);
        ck_assert_int_eq(c->event_retention.max_days, 7);
        ck_assert_int_eq(c->event_retention.max_rows, 5000);
        coord_config_free(&c);
}
END_TEST

START_TEST(test_coord_timeout_follows_heartbeat) {
        coord_config_t *c = coord_load_ok(write_conf("coordinator.conf", "heartbeat_interval = \"2s\";\n"));
        ck_assert_int_eq(c->heartbeat_interval_ms, 2000);
        ck_assert_int_eq(c->node_timeout_ms, 6000);
        coord_config_free(&c);
}
END_TEST

START_TEST(test_coord_timeout_must_exceed_heartbeat) {
        static const char *const bad[] = { "\"5s\"", "5", "\"4s\"", "\"4999ms\"" };
        char conf[200];
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                conf_report_t r;
                snprintf(conf, sizeof conf, "heartbeat_interval = \"5s\";\nnode_timeout = %s;\n", bad[i]);
                const char *p = write_conf("coordinator.conf", conf);
                coord_load_fails(p, 1, &r);
                assert_line(&r, p, 2, "node_timeout: must be longer than heartbeat_interval");
                conf_report_free(&r);
        }
        coord_config_t *c = coord_load_ok(
                write_conf("coordinator.conf", "heartbeat_interval = \"5s\";\nnode_timeout = \"5001ms\";\n"));
        ck_assert_int_eq(c->node_timeout_ms, 5001);
        coord_config_free(&c);
        /* Against the default heartbeat (5 s) too. */
        conf_report_t r;
        const char *p = write_conf("coordinator.conf", "node_timeout = \"3s\";\n");
        coord_load_fails(p, 1, &r);
        assert_line(&r, p, 1, "node_timeout: must be longer than heartbeat_interval");
        conf_report_free(&r);
}
END_TEST

START_TEST(test_coord_errors_collected) {
        conf_report_t r;
        const char *p = write_conf("coordinator.conf",
                "listen = \"udp://0.0.0.0:7400\";\n"
                "admin_socket = \"run/admin.sock\";\n"
                "max_pending_keys = 0;\n"
                "pending_keys_per_second = 0.5;\n"
                "node_timout = \"30s\";\n"
                "heartbeat_interval = \"fast\";\n"
                "state_dir = \"\";\n"
                "state_min_free_mb = -1;\n"
                "event_retention_days = 0;\n"
                "event_retention_max_rows = 10;\n");
        coord_load_fails(p, 10, &r);
        assert_line(&r, p, 1, "listen: must be tcp://ADDRESS:PORT");
        assert_line(&r, p, 2, "admin_socket: must be an absolute path");
        assert_line(&r, p, 3, "max_pending_keys: 0 is out of range [1, 1000000]");
        assert_line(&r, p, 4, "pending_keys_per_second: must be an integer");
        assert_line(&r, p, 5, "node_timout: unknown key");
        assert_line(&r, p, 6, "heartbeat_interval: " DURATION_MSG);
        assert_line(&r, p, 7, "state_dir: must not be empty");
        assert_line(&r, p, 8, "state_min_free_mb: -1 is out of range [0, 1048576]");
        assert_line(&r, p, 9, "event_retention_days: 0 is out of range [1, 36500]");
        assert_line(&r, p, 10, "event_retention_max_rows: 10 is out of range [1000, 100000000]");
        conf_report_free(&r);
}
END_TEST

/* The endpoints as the daemons use them: what zmq_bind() or zmq_connect()
 * would refuse, or what could never connect, is a config error naming
 * file, line and key. */
START_TEST(test_coord_listen_endpoint) {
        static const char *const good[] = {
                "tcp://*:7400", "tcp://127.0.0.1:1", "tcp://0.0.0.0:65535", "tcp://eth0:7400",
                "tcp://bond0.100:7400", "tcp://br-ex:7400", "tcp://127.0.0.1:0", "tcp://*:*",
        };
        static const struct { const char *in, *msg; } bad[] = {
                { "tcp://*:notaport", "'*:notaport': port is not a decimal number" },
                { "tcp://*:70000", "'*:70000': port out of range 1..65535" },
                { "tcp://*:", "'*:': missing port after ':'" },
                { "tcp://*", "'*': missing ':PORT'" },
                { "tcp://:7400", "':7400': missing address (use '*' for every address)" },
                { "tcp://10.0.0.300:7400", "'10.0.0.300:7400': bad IPv4 address" },
                { "tcp://[::1]:7400", "'[::1]:7400': IPv6 addresses are not supported" },
                { "tcp://coordinator.example.com:7400",
                  "'coordinator.example.com:7400': not '*', an IPv4 address or an interface name "
                  "(host names cannot be bound)" },
                { "tcp://eth 0:7400",
                  "'eth 0:7400': not '*', an IPv4 address or an interface name (host names cannot be bound)" },
                { "ipc:///run/x", "must be tcp://ADDRESS:PORT" },
        };
        char conf[200];
        for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
                snprintf(conf, sizeof conf, "max_nodes = 3;\nlisten = \"%s\";\n", good[i]);
                coord_config_t *c = coord_load_ok(write_conf("coordinator.conf", conf));
                ck_assert_str_eq(c->listen, good[i]);
                coord_config_free(&c);
        }
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
                assert_refused("coordinator.conf", "max_nodes = 3;\nlisten = \"%s\";\n", bad[i].in, 2, "listen",
                               bad[i].msg);
}
END_TEST

#define AGENT_ENDPOINT_CONF "node_id = \"n\";\ncoordinator = {\n  endpoint = \"%s\";\n};\n"

START_TEST(test_agent_coordinator_endpoint) {
        static const char *const good[] = {
                "tcp://10.0.0.1:7400", "tcp://coordinator.example.com:1", "tcp://localhost:65535",
        };
        static const struct { const char *in, *msg; } bad[] = {
                { "tcp://ctrl:notaport", "'ctrl:notaport': port is not a decimal number" },
                { "tcp://ctrl:0", "'ctrl:0': port out of range 1..65535" },
                { "tcp://ctrl", "'ctrl': missing ':port'" },
                { "tcp://*:7400", "'*:7400': invalid character in host name" },
                { "tcp://10.0.0.300:7400", "'10.0.0.300:7400': bad IPv4 address" },
                { "tcp://[fd00::1]:7400", "'[fd00::1]:7400': IPv6 addresses are not supported" },
        };
        char conf[200];
        for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
                snprintf(conf, sizeof conf, AGENT_ENDPOINT_CONF, good[i]);
                agent_config_t *c = agent_load_ok(write_conf("agent.conf", conf));
                ck_assert_str_eq(c->coordinator_endpoint, good[i]);
                agent_config_free(&c);
        }
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
                assert_refused("agent.conf", AGENT_ENDPOINT_CONF, bad[i].in, 3, "coordinator.endpoint", bad[i].msg);
}
END_TEST

START_TEST(test_coord_syntax_error) {
        conf_report_t r;
        const char *p = write_conf("coordinator.conf", "listen = \"tcp://*:1\";\nmax_nodes = = 3;\n");
        coord_load_fails(p, 1, &r);
        assert_line(&r, p, 2, "syntax error");
        conf_report_free(&r);
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("agent");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_agent_defaults);
        tcase_add_test(tc, test_agent_values);
        tcase_add_test(tc, test_agent_has_coordinator);
        tcase_add_test(tc, test_agent_error_unknown_key);
        tcase_add_test(tc, test_agent_error_wrong_type);
        tcase_add_test(tc, test_agent_error_out_of_range);
        tcase_add_test(tc, test_agent_error_bad_duration);
        tcase_add_test(tc, test_agent_error_missing_required);
        tcase_add_test(tc, test_agent_error_syntax);
        tcase_add_test(tc, test_agent_error_missing_file);
        tcase_add_test(tc, test_agent_errors_all_collected);
        tcase_add_test(tc, test_agent_values_validated);
        tcase_add_test(tc, test_agent_metrics_textfile_validated);
        tcase_add_test(tc, test_agent_default_node_id_validated);
        tcase_add_test(tc, test_agent_refuses_writable_config);
        tcase_add_test(tc, test_agent_accepts_protected_config);
        suite_add_tcase(s, tc);

        tc = tcase_create("durations");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_agent_durations);
        tcase_add_test(tc, test_agent_durations_refused);
        tcase_add_test(tc, test_parse_duration);
        suite_add_tcase(s, tc);

        tc = tcase_create("checks");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_checks_each_kind);
        tcase_add_test(tc, test_checks_duplicate_names);
        tcase_add_test(tc, test_checks_keys_of_another_kind);
        tcase_add_test(tc, test_checks_invalid);
        tcase_add_test(tc, test_checks_must_be_list);
        tcase_add_test(tc, test_coordinator_key_z85_or_file);
        tcase_add_test(tc, test_coordinator_key_invalid);
        suite_add_tcase(s, tc);

        tc = tcase_create("coordinator");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_coord_defaults);
        tcase_add_test(tc, test_coord_http_listen);
        tcase_add_test(tc, test_coord_values);
        tcase_add_test(tc, test_coord_timeout_follows_heartbeat);
        tcase_add_test(tc, test_coord_timeout_must_exceed_heartbeat);
        tcase_add_test(tc, test_coord_errors_collected);
        tcase_add_test(tc, test_coord_listen_endpoint);
        tcase_add_test(tc, test_agent_coordinator_endpoint);
        tcase_add_test(tc, test_coord_syntax_error);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(config_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
