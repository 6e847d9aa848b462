/* The coordinator's configuration (libconfig), validated into a typed
 * struct. hitlessctl reads only its admin_socket (ctl/admin_socket.c). */
#pragma once
#include <stdbool.h>
#include <netinet/in.h>
#include <stdint.h>

#include "common/admin_protocol.h"
#include "common/conf.h"
#include "coordinator/store/event_retention.h"
#include "coordinator/fleet/inventory.h"

typedef struct {
        char *path;                   /* the file this was loaded from */
        char *listen;                 /* agents' endpoint, default tcp, all addresses, port 7400 */
        char *secret_key_file;        /* default /etc/hitless/coordinator.key_secret */
        char *state_dir;              /* default /var/lib/hitless/coordinator */
        char *admin_socket;           /* default /run/hitless/admin.sock */
        char *preapproved_keys_dir;   /* NULL: none; each .key file in it is accepted on sight */
        int64_t heartbeat_interval_ms;/* what agents are expected to use, default 5000 */
        int64_t node_timeout_ms;      /* default 3 * heartbeat_interval */
        int64_t max_message_bytes;    /* ZMQ_MAXMSGSIZE */
        long long max_pending_keys;   /* bound on the pending table, default 1000 */
        double pending_keys_per_second; /* new pending keys admitted, default 10/s */
        long long max_nodes;          /* ZMQ_MAX_SOCKETS / fd sizing, default 10000 */
        long long state_min_free_mb;  /* below this free in state_dir no new upgrade step starts; default 64, 0 off */
        event_retention_t event_retention; /* event_retention_days, _max_rows (90, 100000) */
        inventory_t inventory;        /* groups, quorum_groups, role_overrides */
        char *http_listen;            /* NULL: no HTTP server; "127.0.0.1:9735" (coordinator/http/) */
        bool http_allow_remote;       /* http_listen may be a non-loopback address */
        struct sockaddr_in http_addr; /* http_listen parsed */
} coord_config_t;

int coord_config_load(const char *path, coord_config_t **ret, conf_report_t *report);
void coord_config_free(coord_config_t **c);
