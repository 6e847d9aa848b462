#include "coordinator/coord_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/tcp_endpoint.h"
#include "coordinator/http/http_listen.h"

static const char *const known_keys[] = {
        "listen", "secret_key_file", "state_dir", "admin_socket", "preapproved_keys_dir",
        "heartbeat_interval", "node_timeout", "max_message_bytes", "max_pending_keys",
        "pending_keys_per_second", "max_nodes", "state_min_free_mb", "event_retention_days",
        "event_retention_max_rows", "http_listen", "http_allow_remote",
        /* the inventory (inventory.h) */
        "groups", "quorum_groups", "role_overrides", NULL,
};

int coord_config_load(const char *path, coord_config_t **ret, conf_report_t *r) {
        config_t cfg;
        coord_config_t *c;
        const config_setting_t *root;
        long long maxmsg = HITLESS_MAX_MESSAGE_BYTES, rate = 10;
        long long days = EVENT_RETENTION_DEFAULT_DAYS, rows = EVENT_RETENTION_DEFAULT_MAX_ROWS;
        bool have_timeout;
        char why[256];
        int e;

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
        c->max_pending_keys = 1000;
        c->max_nodes = 10000;
        c->state_min_free_mb = 64;
        root = config_root_setting(&cfg);
        conf_check_known(root, known_keys, r);

        if (conf_get_string(root, "listen", false, &c->listen, r) &&
            tcp_endpoint_check(c->listen, TCP_ENDPOINT_BIND, why, sizeof why) < 0)
                conf_report_add(r, config_setting_get_member(root, "listen"), NULL, "%s", why);
        conf_get_string(root, "secret_key_file", false, &c->secret_key_file, r);
        conf_get_string(root, "state_dir", false, &c->state_dir, r);
        if (conf_get_string(root, "admin_socket", false, &c->admin_socket, r) &&
            c->admin_socket[0] != '/')
                conf_report_add(r, config_setting_get_member(root, "admin_socket"), NULL,
                                "must be an absolute path");
        conf_get_string(root, "preapproved_keys_dir", false, &c->preapproved_keys_dir, r);
        conf_get_duration_ms(root, "heartbeat_interval", false, 100, 3600 * 1000,
                             &c->heartbeat_interval_ms, r);
        c->node_timeout_ms = 3 * c->heartbeat_interval_ms;
        have_timeout = conf_get_duration_ms(root, "node_timeout", false, 200, 24 * 3600 * 1000,
                                            &c->node_timeout_ms, r);
        if (have_timeout && c->node_timeout_ms <= c->heartbeat_interval_ms)
                conf_report_add(r, config_setting_get_member(root, "node_timeout"), NULL,
                                "must be longer than heartbeat_interval");
        conf_get_int(root, "max_message_bytes", false, 4096, 64 * 1024 * 1024, &maxmsg, r);
        c->max_message_bytes = maxmsg;
        conf_get_int(root, "max_pending_keys", false, 1, 1000000, &c->max_pending_keys, r);
        conf_get_int(root, "pending_keys_per_second", false, 1, 100000, &rate, r);
        c->pending_keys_per_second = (double) rate;
        conf_get_int(root, "max_nodes", false, 1, 1000000, &c->max_nodes, r);
        conf_get_int(root, "state_min_free_mb", false, 0, 1024 * 1024, &c->state_min_free_mb, r);
        conf_get_int(root, "event_retention_days", false, 1, 36500, &days, r);
        conf_get_int(root, "event_retention_max_rows", false, 1000, 100000000, &rows, r);
        c->event_retention = (event_retention_t) { .max_days = days, .max_rows = rows };
        conf_get_bool(root, "http_allow_remote", &c->http_allow_remote, r);
        if (conf_get_string(root, "http_listen", false, &c->http_listen, r) &&
            http_listen_parse(c->http_listen, c->http_allow_remote, &c->http_addr, why, sizeof why) < 0)
                conf_report_add(r, config_setting_get_member(root, "http_listen"), NULL, "%s", why);
        if (inventory_parse(root, &c->inventory, r) == -ENOMEM)
                conf_report_add(r, NULL, NULL, "out of memory reading the inventory");

        if (!c->listen)
                c->listen = strdup("tcp://*:7400");
        if (!c->secret_key_file)
                c->secret_key_file = strdup("/etc/hitless/coordinator.key_secret");
        if (!c->state_dir)
                c->state_dir = strdup("/var/lib/hitless/coordinator");
        if (!c->admin_socket)
                c->admin_socket = strdup(COORD_DEFAULT_ADMIN_SOCKET);
        config_destroy(&cfg);

        if (r->n_lines > 0) {
                coord_config_free(&c);
                return -EINVAL;
        }
        *ret = c;
        return 0;
}

void coord_config_free(coord_config_t **cp) {
        coord_config_t *c = *cp;
        if (!c)
                return;
        free(c->path);
        free(c->listen);
        free(c->secret_key_file);
        free(c->state_dir);
        free(c->admin_socket);
        free(c->preapproved_keys_dir);
        free(c->http_listen);
        inventory_clear(&c->inventory);
        free(c);
        *cp = NULL;
}
