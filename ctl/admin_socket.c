/* Where hitlessctl finds the coordinator's admin socket. */
#include <stdio.h>
#include <string.h>

#include "common/conf.h"
#include "coordinator/coord_config.h"
#include "ctl/ctl.h"

/* admin_socket of a config that did not validate as a whole, when the file
 * parses and the setting is an absolute path: the running coordinator most
 * likely still uses it. */
static bool admin_socket_of_invalid(const char *path, char *buf, size_t len) {
        config_t cfg;
        conf_report_t ignored;
        const char *s = NULL;
        bool found;

        conf_report_init(&ignored, path);
        found = conf_load(&cfg, path, &ignored) == 0;
        conf_report_free(&ignored);
        if (!found)
                return false;
        found = config_lookup_string(&cfg, "admin_socket", &s) == CONFIG_TRUE && s[0] == '/';
        if (found)
                snprintf(buf, len, "%s", s);
        config_destroy(&cfg);
        return found;
}

int ctl_admin_socket(const ctl_t *ctl, char *buf, size_t len) {
        coord_config_t *cfg = NULL;
        conf_report_t report;
        const char *path = ctl->config_path ? ctl->config_path : COORD_DEFAULT_CONFIG;

        if (ctl->socket_path) {
                snprintf(buf, len, "%s", ctl->socket_path);
                return CTL_EXIT_OK;
        }
        conf_report_init(&report, path);
        if (coord_config_load(path, &cfg, &report) == 0) {
                conf_report_free(&report);
                snprintf(buf, len, "%s", cfg->admin_socket);
                coord_config_free(&cfg);
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
        if (admin_socket_of_invalid(path, buf, len)) {
                fprintf(stderr, "hitlessctl: warning: using admin_socket %s from that file\n", buf);
        } else {
                snprintf(buf, len, "%s", COORD_DEFAULT_ADMIN_SOCKET);
                fprintf(stderr, "hitlessctl: warning: using the default admin socket %s\n", buf);
        }
        return CTL_EXIT_OK;
}
