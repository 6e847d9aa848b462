/* The agent's configuration (libconfig), validated into a typed struct.
 *
 * It is also the agent's local policy: the agent acts only on what is
 * listed here, whatever the coordinator asks. The file must be owned by
 * root (or the running user) and not writable by group or others.
 * See docs/agent.conf.5.md and packaging examples. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/task_policy.h"
#include "common/attrs.h"
#include "common/conf.h"

#define AGENT_DEFAULT_CONFIG "/etc/hitless/agent.conf"
/* The coordinator gives commands 600 s (coordinator/upgrade/upgrade.c) and at most
 * this much (coordinator/commands/commands.c), so the defaults agree. */
#define AGENT_DEFAULT_MAX_COMMAND_DEADLINE_S 3600
#define AGENT_DEFAULT_RETENTION_DAYS 90

typedef enum {
        CHECK_UNIT,   /* a systemd unit is active (sd-bus) */
        CHECK_TCP,    /* a TCP connect to host:port succeeds */
        CHECK_EXEC,   /* argv exits 0 within the timeout */
        CHECK_HTTP,   /* GET http://host:port/path gives 2xx (and body has expect) */
} check_kind_t;

const char *check_kind_name(check_kind_t k);

typedef struct {
        char *name;
        check_kind_t kind;
        char *unit;            /* CHECK_UNIT */
        char *host;            /* CHECK_TCP, CHECK_HTTP */
        long long port;        /* CHECK_TCP, CHECK_HTTP */
        char *path;            /* CHECK_HTTP: default "/" */
        char *expect;          /* CHECK_HTTP: optional body substring */
        char **argv;           /* CHECK_EXEC */
        int64_t timeout_ms;    /* default 2000 */
        bool critical;         /* failing makes the node unhealthy (default);
                                  false: only degraded */
} check_config_t;

/* Where the endpoints of one kind are written: an INI file, a section, a
 * key, and the format that key expects. A kind may map to several keys. */
typedef struct {
        char *kind;            /* "controller", "collector", "dns", or any name */
        char *file;            /* absolute path of the INI file */
        char *section;
        char *key;
        char separator;        /* ' ' (default) or ',' */
        bool with_port;        /* write host:port (default) or hosts only */
} endpoint_map_t;

/* An operator's hook: argv (absolute program path, no shell) and a timeout. */
typedef struct {
        char **argv;           /* NULL: not configured */
        int64_t timeout_ms;    /* default 10 minutes */
} hook_config_t;

typedef struct {
        char *path;                     /* the file this was loaded from */
        char *node_id;                  /* default: hostname */
        char *hostname;                 /* default: gethostname() */
        char **roles;                   /* NULL-terminated, may be empty */
        char *coordinator_endpoint;     /* "tcp://host:port"; NULL: not configured yet */
        char *coordinator_public_key;   /* Z85; NULL: not configured yet */
        char *secret_key_file;          /* default /etc/hitless/agent.key_secret */
        char *state_dir;                /* default /var/lib/hitless/agent */
        char *metrics_textfile;         /* node_exporter textfile (*.prom); NULL: none */
        char *system_bus_address;       /* NULL: the system bus (tests set a private one) */
        int64_t heartbeat_interval_ms;  /* default 5000 */
        int64_t max_message_bytes;      /* ZMQ_MAXMSGSIZE, default HITLESS_MAX_MESSAGE_BYTES */
        int64_t max_command_deadline_ms; /* a command's deadline at most this far ahead */
        int64_t journal_retention_days; /* forget finished commands after this (agent/journal.h) */
        char *package_backend;          /* "apt", "dnf" or "auto" (default) */
        char *dpkg_admindir;            /* NULL: dpkg's default (tests use a private root) */
        char **packages;                /* managed packages, NULL-terminated */
        check_config_t *checks;
        size_t n_checks;

        /* The policy: what the agent will change, whoever asks
         * (group `policy = { ... }` in the file). */
        char **units;                   /* units it may restart, start or stop, NULL-terminated */
        task_config_t *tasks;           /* named tasks (agent/task_policy.h) */
        size_t n_tasks;
        hook_config_t drain, undrain;
        endpoint_map_t *endpoints;
        size_t n_endpoints;
        char *package_root;             /* NULL: "/"; dnf --installroot for tests */
        int64_t lock_timeout_ms;        /* wait for the dpkg/rpm lock, default 5 min */
        int64_t install_timeout_ms;     /* one package operation, default 30 min */
        int64_t restart_timeout_ms;     /* one unit restart, default 2 min */
} agent_config_t;

/* Policy lookups: true if the value is allowed verbatim. */
bool agent_policy_allows_unit(const agent_config_t *c, const char *unit);
bool agent_policy_allows_package(const agent_config_t *c, const char *name);
/* Whether any endpoint map names this kind. */
bool agent_policy_allows_endpoint_kind(const agent_config_t *c, const char *kind);
/* The policy's task called name, or NULL. */
const task_config_t *agent_policy_task(const agent_config_t *c, const char *name);

/* Loads and validates path. Returns 0 with *ret set, or -EINVAL/-errno with
 * every problem in report (FILE:LINE: KEY: message). */
HL_MUST_USE int agent_config_load(const char *path, agent_config_t **ret, conf_report_t *report);

/* True when the coordinator endpoint and key are both set: until then the
 * agent waits (a freshly installed package has neither). */
bool agent_config_has_coordinator(const agent_config_t *c);

void agent_config_free(agent_config_t **c);
