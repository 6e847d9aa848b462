#include "agent/agent_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/ids.h"
#include "common/keys.h"
#include "common/tcp_endpoint.h"

static const char *const check_kind_names[] = {
        [CHECK_UNIT] = "unit", [CHECK_TCP] = "tcp", [CHECK_EXEC] = "exec", [CHECK_HTTP] = "http",
};

const char *check_kind_name(check_kind_t k) {
        return (unsigned) k < sizeof check_kind_names / sizeof *check_kind_names
                       ? check_kind_names[k] : "unknown";
}

static const char *const top_keys[] = {
        "node_id", "hostname", "roles", "coordinator", "secret_key_file", "state_dir", "metrics_textfile",
        "system_bus_address", "heartbeat_interval", "max_message_bytes", "package_backend",
        "dpkg_admindir", "packages", "checks", "policy", "max_command_deadline", "journal_retention_days",
        NULL,
};
static const char *const policy_keys[] = {
        "units", "drain", "undrain", "endpoints", "package_root", "lock_timeout",
        "install_timeout", "restart_timeout", "tasks", NULL,
};
static const char *const hook_keys[] = { "argv", "timeout", NULL };
static const char *const endpoint_keys[] = { "kind", "file", "section", "key", "separator", "port", NULL };
static const char *const coordinator_keys[] = { "endpoint", "public_key", NULL };
static const char *const check_keys[] = {
        "name", "kind", "unit", "host", "port", "path", "expect", "argv", "timeout", "critical", NULL,
};

/* The agent config is its policy: someone who can write it can make the
 * agent run anything as root, so it must be as protected as the binary. */
static int check_file_protected(const char *path, conf_report_t *r) {
        struct stat st;
        if (stat(path, &st) < 0)
                return 0;  /* conf_load reports the missing file */
        if (st.st_mode & 0022) {
                conf_report_add(r, NULL, NULL,
                                "refusing a config writable by group or others (mode %04o); "
                                "chmod go-w it", (unsigned) (st.st_mode & 07777));
                return -EPERM;
        }
        if (st.st_uid != 0 && st.st_uid != geteuid()) {
                conf_report_add(r, NULL, NULL, "refusing a config owned by uid %u (not root)",
                                (unsigned) st.st_uid);
                return -EPERM;
        }
        return 0;
}

static void parse_check(const config_setting_t *s, check_config_t *c, conf_report_t *r) {
        char *kind = NULL;
        long long port = 0;

        c->timeout_ms = 2000;
        c->critical = true;
        if (!config_setting_is_group(s)) {
                conf_report_add(r, s, NULL, "must be a group { name = ...; kind = ...; }");
                return;
        }
        conf_check_known(s, check_keys, r);
        conf_get_string(s, "name", true, &c->name, r);
        conf_get_duration_ms(s, "timeout", false, 1, 3600 * 1000, &c->timeout_ms, r);
        conf_get_bool(s, "critical", &c->critical, r);
        if (!conf_get_string(s, "kind", true, &kind, r))
                return;

        if (strcmp(kind, "unit") == 0) {
                c->kind = CHECK_UNIT;
                conf_get_string(s, "unit", true, &c->unit, r);
        } else if (strcmp(kind, "tcp") == 0 || strcmp(kind, "http") == 0) {
                c->kind = strcmp(kind, "tcp") == 0 ? CHECK_TCP : CHECK_HTTP;
                conf_get_string(s, "host", true, &c->host, r);
                if (conf_get_int(s, "port", true, 1, 65535, &port, r))
                        c->port = port;
                if (c->kind == CHECK_HTTP) {
                        conf_get_string(s, "path", false, &c->path, r);
                        conf_get_string(s, "expect", false, &c->expect, r);
                        if (!c->path)
                                c->path = strdup("/");
                        else if (c->path[0] != '/')
                                conf_report_add(r, s, "path", "must start with '/'");
                }
        } else if (strcmp(kind, "exec") == 0) {
                c->kind = CHECK_EXEC;
                if (conf_get_strv(s, "argv", true, &c->argv, r) && !c->argv[0])
                        conf_report_add(r, s, "argv", "must not be empty");
                else if (c->argv && c->argv[0][0] != '/')
                        conf_report_add(r, s, "argv", "the program must be an absolute path");
        } else {
                conf_report_add(r, s, "kind", "unknown check kind \"%s\" (unit, tcp, http, exec)", kind);
        }
        /* Keys that belong to another kind are mistakes worth reporting. */
        static const struct { const char *key; unsigned kinds; } owned[] = {
                { "unit", 1u << CHECK_UNIT }, { "argv", 1u << CHECK_EXEC },
                { "host", 1u << CHECK_TCP | 1u << CHECK_HTTP },
                { "port", 1u << CHECK_TCP | 1u << CHECK_HTTP },
                { "path", 1u << CHECK_HTTP }, { "expect", 1u << CHECK_HTTP },
        };
        for (size_t i = 0; i < sizeof owned / sizeof *owned; i++)
                if (config_setting_get_member(s, owned[i].key) && !(owned[i].kinds & (1u << c->kind)))
                        conf_report_add(r, config_setting_get_member(s, owned[i].key), NULL,
                                        "not used by a \"%s\" check", kind);
        free(kind);
}

static void parse_coordinator(const config_setting_t *g, agent_config_t *c, conf_report_t *r) {
        char *key = NULL, why[256];
        if (!config_setting_is_group(g)) {
                conf_report_add(r, g, NULL, "must be a group { endpoint = ...; public_key = ...; }");
                return;
        }
        conf_check_known(g, coordinator_keys, r);
        if (conf_get_string(g, "endpoint", false, &c->coordinator_endpoint, r) &&
            tcp_endpoint_check(c->coordinator_endpoint, TCP_ENDPOINT_CONNECT, why, sizeof why) < 0)
                conf_report_add(r, config_setting_get_member(g, "endpoint"), NULL, "%s", why);
        if (conf_get_string(g, "public_key", false, &key, r)) {
                char z85[KEYS_Z85_LEN + 1];
                int e = keys_load_public(key, z85);
                if (e < 0)
                        conf_report_add(r, config_setting_get_member(g, "public_key"), NULL,
                                        "not a Z85 public key nor a readable key file: %s",
                                        strerror(-e));
                else
                        c->coordinator_public_key = strdup(z85);
        }
        free(key);
}

static void parse_hook(const config_setting_t *s, hook_config_t *h, conf_report_t *r) {
        if (!config_setting_is_group(s)) {
                conf_report_add(r, s, NULL, "must be a group { argv = [...]; timeout = ...; }");
                return;
        }
        conf_check_known(s, hook_keys, r);
        conf_get_duration_ms(s, "timeout", false, 1000, 24 * 3600 * 1000, &h->timeout_ms, r);
        if (conf_get_strv(s, "argv", true, &h->argv, r) &&
            (!h->argv[0] || h->argv[0][0] != '/'))
                conf_report_add(r, config_setting_get_member(s, "argv"), NULL,
                                "must start with an absolute program path");
}

static void parse_endpoint_map(const config_setting_t *s, endpoint_map_t *m, conf_report_t *r) {
        char *sep = NULL;
        m->separator = ' ';
        m->with_port = true;
        if (!config_setting_is_group(s)) {
                conf_report_add(r, s, NULL, "must be a group { kind = ...; file = ...; section = ...; key = ...; }");
                return;
        }
        conf_check_known(s, endpoint_keys, r);
        if (conf_get_string(s, "kind", true, &m->kind, r) && !node_id_valid(m->kind))
                conf_report_add(r, config_setting_get_member(s, "kind"), NULL, "must be 1-63 of [A-Za-z0-9._-]");
        if (conf_get_string(s, "file", true, &m->file, r) && m->file[0] != '/')
                conf_report_add(r, config_setting_get_member(s, "file"), NULL, "must be an absolute path");
        conf_get_string(s, "section", true, &m->section, r);
        conf_get_string(s, "key", true, &m->key, r);
        conf_get_bool(s, "port", &m->with_port, r);
        if (conf_get_string(s, "separator", false, &sep, r)) {
                if (strcmp(sep, " ") == 0 || strcmp(sep, ",") == 0)
                        m->separator = sep[0];
                else
                        conf_report_add(r, config_setting_get_member(s, "separator"), NULL,
                                        "must be \" \" or \",\"");
        }
        free(sep);
}

/* Names the agent sends or is sent (common/ids.h): one outside its set
 * would make the coordinator drop the agent's Hello, or could never be
 * named by a command. */
static void s_check_names(const config_setting_t *parent, const char *key, char *const *v,
                        bool (*valid)(const char *), const char *what, const char *rule, conf_report_t *r) {
        for (size_t i = 0; v && v[i]; i++)
                if (!valid(v[i]))
                        conf_report_add(r, config_setting_get_member(parent, key), NULL, "%s \"%s\" must be %s",
                                        what, v[i], rule);
}

static void parse_policy(const config_setting_t *g, agent_config_t *c, conf_report_t *r) {
        const config_setting_t *s;
        if (!config_setting_is_group(g)) {
                conf_report_add(r, g, NULL, "must be a group { units = [...]; ... }");
                return;
        }
        conf_check_known(g, policy_keys, r);
        conf_get_strv(g, "units", false, &c->units, r);
        s_check_names(g, "units", c->units, unit_name_valid, "unit", "1-255 of [A-Za-z0-9:_.\\@-]", r);
        conf_get_string(g, "package_root", false, &c->package_root, r);
        conf_get_duration_ms(g, "lock_timeout", false, 0, 24 * 3600 * 1000, &c->lock_timeout_ms, r);
        conf_get_duration_ms(g, "install_timeout", false, 1000, 24 * 3600 * 1000, &c->install_timeout_ms, r);
        conf_get_duration_ms(g, "restart_timeout", false, 1000, 3600 * 1000, &c->restart_timeout_ms, r);
        if ((s = config_setting_get_member(g, "drain")))
                parse_hook(s, &c->drain, r);
        if ((s = config_setting_get_member(g, "undrain")))
                parse_hook(s, &c->undrain, r);
        if ((s = config_setting_get_member(g, "tasks")))
                task_policy_parse(s, &c->tasks, &c->n_tasks, r);
        if ((s = config_setting_get_member(g, "endpoints"))) {
                if (!config_setting_is_list(s)) {
                        conf_report_add(r, s, NULL, "must be a list ( { ... }, { ... } )");
                        return;
                }
                c->n_endpoints = (size_t) config_setting_length(s);
                c->endpoints = calloc(c->n_endpoints ? c->n_endpoints : 1, sizeof *c->endpoints);
                for (size_t i = 0; c->endpoints && i < c->n_endpoints; i++)
                        parse_endpoint_map(config_setting_get_elem(s, (unsigned) i), &c->endpoints[i], r);
        }
}

static void apply_defaults(agent_config_t *c) {
        char host[256] = "";
        if (!c->hostname) {
                gethostname(host, sizeof host - 1);
                c->hostname = strdup(host);
        }
        if (!c->node_id) {
                /* The short hostname is the usual node name in a fleet. */
                c->node_id = strdup(c->hostname);
                char *dot = strchr(c->node_id, '.');
                if (dot)
                        *dot = '\0';
        }
        if (!c->roles)
                c->roles = calloc(1, sizeof(char *));
        if (!c->packages)
                c->packages = calloc(1, sizeof(char *));
        if (!c->secret_key_file)
                c->secret_key_file = strdup("/etc/hitless/agent.key_secret");
        if (!c->state_dir)
                c->state_dir = strdup("/var/lib/hitless/agent");
        if (!c->package_backend)
                c->package_backend = strdup("auto");
        if (!c->units)
                c->units = calloc(1, sizeof(char *));
}

int agent_config_load(const char *path, agent_config_t **ret, conf_report_t *r) {
        config_t cfg;
        agent_config_t *c;
        const config_setting_t *root, *s;
        long long maxmsg = HITLESS_MAX_MESSAGE_BYTES, retention_days = AGENT_DEFAULT_RETENTION_DAYS;
        int e;

        e = check_file_protected(path, r);
        if (e < 0)
                return e;
        e = conf_load(&cfg, path, r);
        if (e < 0)
                return e;
        c = calloc(1, sizeof *c);
        if (!c) {
                config_destroy(&cfg);
                return -ENOMEM;
        }
        c->path = strdup(path);
        c->heartbeat_interval_ms = 5000;
        c->drain.timeout_ms = c->undrain.timeout_ms = 10 * 60 * 1000;
        c->lock_timeout_ms = 5 * 60 * 1000;
        c->install_timeout_ms = 30 * 60 * 1000;
        c->restart_timeout_ms = 2 * 60 * 1000;
        c->max_command_deadline_ms = AGENT_DEFAULT_MAX_COMMAND_DEADLINE_S * 1000;
        root = config_root_setting(&cfg);
        conf_check_known(root, top_keys, r);

        if (conf_get_string(root, "node_id", false, &c->node_id, r) && !node_id_valid(c->node_id))
                conf_report_add(r, config_setting_get_member(root, "node_id"), NULL,
                                "must be 1-63 of [A-Za-z0-9._-]");
        conf_get_string(root, "hostname", false, &c->hostname, r);
        conf_get_strv(root, "roles", false, &c->roles, r);
        s_check_names(root, "roles", c->roles, node_id_valid, "role", "1-63 of [A-Za-z0-9._-]", r);
        conf_get_string(root, "secret_key_file", false, &c->secret_key_file, r);
        conf_get_string(root, "state_dir", false, &c->state_dir, r);
        if (conf_get_string(root, "metrics_textfile", false, &c->metrics_textfile, r)) {
                size_t n = strlen(c->metrics_textfile);
                if (c->metrics_textfile[0] != '/' || n < 6 || strcmp(c->metrics_textfile + n - 5, ".prom") != 0)
                        conf_report_add(r, config_setting_get_member(root, "metrics_textfile"), NULL,
                                        "must be an absolute path ending in .prom (node_exporter's textfile "
                                        "collector reads only those)");
        }
        conf_get_string(root, "system_bus_address", false, &c->system_bus_address, r);
        conf_get_string(root, "dpkg_admindir", false, &c->dpkg_admindir, r);
        conf_get_duration_ms(root, "heartbeat_interval", false, 100, 3600 * 1000,
                             &c->heartbeat_interval_ms, r);
        conf_get_int(root, "max_message_bytes", false, 4096, 64 * 1024 * 1024, &maxmsg, r);
        c->max_message_bytes = maxmsg;
        conf_get_duration_ms(root, "max_command_deadline", false, 1000, 7 * 24 * 3600 * 1000LL,
                             &c->max_command_deadline_ms, r);
        conf_get_int(root, "journal_retention_days", false, 1, 100 * 365, &retention_days, r);
        c->journal_retention_days = retention_days;
        if (conf_get_string(root, "package_backend", false, &c->package_backend, r) &&
            strcmp(c->package_backend, "apt") != 0 && strcmp(c->package_backend, "dnf") != 0 &&
            strcmp(c->package_backend, "auto") != 0)
                conf_report_add(r, config_setting_get_member(root, "package_backend"), NULL,
                                "must be \"apt\", \"dnf\" or \"auto\"");
        conf_get_strv(root, "packages", false, &c->packages, r);
        s_check_names(root, "packages", c->packages, package_name_valid, "package",
                    "1-255 of [A-Za-z0-9.+_~:-], starting with a letter or digit", r);

        if ((s = config_setting_get_member(root, "coordinator")))
                parse_coordinator(s, c, r);
        if ((s = config_setting_get_member(root, "policy")))
                parse_policy(s, c, r);

        if ((s = config_setting_get_member(root, "checks"))) {
                if (!config_setting_is_list(s)) {
                        conf_report_add(r, s, NULL, "must be a list ( { ... }, { ... } )");
                } else {
                        c->n_checks = (size_t) config_setting_length(s);
                        c->checks = calloc(c->n_checks ? c->n_checks : 1, sizeof *c->checks);
                        for (size_t i = 0; i < c->n_checks; i++)
                                parse_check(config_setting_get_elem(s, (unsigned) i), &c->checks[i], r);
                        for (size_t i = 0; i < c->n_checks; i++)
                                for (size_t j = 0; j < i; j++)
                                        if (c->checks[i].name && c->checks[j].name &&
                                            strcmp(c->checks[i].name, c->checks[j].name) == 0)
                                                conf_report_add(r, config_setting_get_elem(s, (unsigned) i),
                                                                "name", "duplicate check name \"%s\"",
                                                                c->checks[i].name);
                }
        }
        /* Only a node id taken from the hostname is checked here: one set
         * in the file was checked (and reported) above. */
        bool node_id_default = !c->node_id;
        apply_defaults(c);
        if (node_id_default && c->node_id && !node_id_valid(c->node_id))
                conf_report_add(r, NULL, "node_id",
                                "the default (hostname \"%s\") is not a valid node id; set node_id",
                                c->hostname);
        config_destroy(&cfg);

        if (r->n_lines > 0) {
                agent_config_free(&c);
                return -EINVAL;
        }
        *ret = c;
        return 0;
}

bool agent_config_has_coordinator(const agent_config_t *c) {
        return c->coordinator_endpoint && c->coordinator_public_key;
}

static bool in_strv(char *const *v, const char *s) {
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

bool agent_policy_allows_unit(const agent_config_t *c, const char *unit) {
        return in_strv(c->units, unit);
}

bool agent_policy_allows_package(const agent_config_t *c, const char *name) {
        return in_strv(c->packages, name);
}

bool agent_policy_allows_endpoint_kind(const agent_config_t *c, const char *kind) {
        for (size_t i = 0; i < c->n_endpoints; i++)
                if (c->endpoints[i].kind && strcmp(c->endpoints[i].kind, kind) == 0)
                        return true;
        return false;
}

const task_config_t *agent_policy_task(const agent_config_t *c, const char *name) {
        return task_policy_find(c->tasks, c->n_tasks, name);
}

static void check_config_clear(check_config_t *c) {
        free(c->name);
        free(c->unit);
        free(c->host);
        free(c->path);
        free(c->expect);
        conf_strv_free(c->argv);
}

void agent_config_free(agent_config_t **cp) {
        agent_config_t *c = *cp;
        if (!c)
                return;
        free(c->path);
        free(c->node_id);
        free(c->hostname);
        conf_strv_free(c->roles);
        free(c->coordinator_endpoint);
        free(c->coordinator_public_key);
        free(c->secret_key_file);
        free(c->state_dir);
        free(c->metrics_textfile);
        free(c->system_bus_address);
        free(c->package_backend);
        free(c->dpkg_admindir);
        conf_strv_free(c->packages);
        for (size_t i = 0; i < c->n_checks; i++)
                check_config_clear(&c->checks[i]);
        free(c->checks);
        conf_strv_free(c->units);
        task_policy_free(c->tasks, c->n_tasks);
        conf_strv_free(c->drain.argv);
        conf_strv_free(c->undrain.argv);
        for (size_t i = 0; i < c->n_endpoints; i++) {
                free(c->endpoints[i].kind);
                free(c->endpoints[i].file);
                free(c->endpoints[i].section);
                free(c->endpoints[i].key);
        }
        free(c->endpoints);
        free(c->package_root);
        free(c);
        *cp = NULL;
}
