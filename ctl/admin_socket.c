/* Where hitlessctl finds the coordinator's admin socket: the admin_socket
 * setting of coordinator.conf. Only that setting is read; the rest of the
 * file is the coordinator's to validate (hitless-coordinator --check-config),
 * so hitlessctl needs nothing from coordinator/. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/admin_protocol.h"
#include "common/conf.h"
#include "ctl/ctl.h"

/* The admin_socket setting of path into buf: 0 when the file parses and the
 * setting is absent (buf is the default) or an absolute path; -EINVAL when
 * the file cannot be read or parsed, or the setting is not an absolute
 * path, with the reason in report. */
static int admin_socket_of(const char *path, char *buf, size_t len, conf_report_t *report) {
        config_t cfg;
        const config_setting_t *s;
        int r = 0;

        if (conf_load(&cfg, path, report) < 0)
                return -EINVAL;
        s = config_setting_get_member(config_root_setting(&cfg), "admin_socket");
        if (!s) {
                snprintf(buf, len, "%s", COORD_DEFAULT_ADMIN_SOCKET);
        } else if (config_setting_type(s) != CONFIG_TYPE_STRING ||
                   config_setting_get_string(s)[0] != '/') {
                conf_report_add(report, s, NULL, "must be an absolute path");
                r = -EINVAL;
        } else {
                snprintf(buf, len, "%s", config_setting_get_string(s));
        }
        config_destroy(&cfg);
        return r;
}

int ctl_admin_socket(const ctl_t *ctl, char *buf, size_t len) {
        conf_report_t report;
        const char *path = ctl->config_path ? ctl->config_path : COORD_DEFAULT_CONFIG;
        int r;

        if (ctl->socket_path) {
                snprintf(buf, len, "%s", ctl->socket_path);
                return CTL_EXIT_OK;
        }
        conf_report_init(&report, path);
        r = admin_socket_of(path, buf, len, &report);
        if (r == 0) {
                conf_report_free(&report);
                return CTL_EXIT_OK;
        }
        /* A file the operator named is theirs to fix: guessing could reach
         * another coordinator than the one they meant. */
        if (ctl->config_path) {
                conf_report_print(&report);
                conf_report_free(&report);
                fprintf(stderr, "hitlessctl: cannot find the admin socket in %s; fix it or use --socket PATH\n",
                        path);
                return CTL_EXIT_USAGE;
        }
        for (size_t i = 0; i < report.n_lines; i++)
                fprintf(stderr, "hitlessctl: warning: %s\n", report.lines[i]);
        conf_report_free(&report);
        snprintf(buf, len, "%s", COORD_DEFAULT_ADMIN_SOCKET);
        fprintf(stderr, "hitlessctl: warning: using the default admin socket %s\n", buf);
        return CTL_EXIT_OK;
}
