/* hitlessctl: the operator's command line to the coordinator. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/admin_protocol.h"
#include "common/log.h"
#include "ctl/ctl.h"

static const ctl_command_t *const commands[] = {
        &ctl_cmd_nodes,
        &ctl_cmd_keys,
        &ctl_cmd_events,
        &ctl_cmd_status,
        &ctl_cmd_drain,
        &ctl_cmd_undrain,
        &ctl_cmd_install,
        &ctl_cmd_repoint,
        &ctl_cmd_restart,
        &ctl_cmd_start,
        &ctl_cmd_stop,
        &ctl_cmd_task,
        &ctl_cmd_check,
        &ctl_cmd_rollback,
        &ctl_cmd_plan,
        &ctl_cmd_upgrade,
        &ctl_cmd_history,
        &ctl_cmd_jobs,
        &ctl_cmd_job,
};

static void usage(FILE *f) {
        fprintf(f,
                "Usage: hitlessctl [OPTIONS] COMMAND [ARGS]\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE   coordinator config, to find the admin socket\n"
                "                      (default %s)\n"
                "  -s, --socket PATH   admin socket path (overrides the config)\n"
                "      --json          machine-readable output\n"
                "      --timeout MS    how long to wait for the coordinator (default 10000)\n"
                "  -h, --help          show this help\n"
                "      --version       show the version\n"
                "\n"
                "Commands:\n",
                COORD_DEFAULT_CONFIG);
        for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
                ctl_print_forms(f, commands[i], "  hitlessctl", "  hitlessctl");
        fprintf(f, "\nExit status: 0 ok, 1 operation failed, 2 usage or config error, "
                   "3 coordinator unreachable.\n");
}

/* `hitlessctl COMMAND ... --help` (or -h right after the command), as
 * `hitlessctl --help` is: the help asked for, on stdout, exit 0, whatever
 * else the line holds. */
static bool wants_help(int argc, char **argv) {
        if (argc > 1 && strcmp(argv[1], "-h") == 0)
                return true;
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "--help") == 0)
                        return true;
        return false;
}

static int help(const ctl_command_t *cmd) {
        ctl_print_forms(stdout, cmd, "usage: hitlessctl", "       hitlessctl");
        printf("\nGlobal options (before the command): -c CONFIG, --socket PATH, --json, --timeout MS.\n"
               "See hitlessctl(1).\n");
        return CTL_EXIT_OK;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "timeout", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { 0 },
        };
        ctl_t ctl = { .timeout_ms = 10000 };
        int opt;

        log_init("hitlessctl");
        /* "+": stop at the command; its own options follow it. */
        while ((opt = getopt_long(argc, argv, "+c:s:h", opts, NULL)) != -1) {
                switch (opt) {
                case 'c': ctl.config_path = optarg; break;
                case 's': ctl.socket_path = optarg; break;
                case 'j': ctl.json = true; break;
                case 't':
                        ctl.timeout_ms = atoi(optarg);
                        if (ctl.timeout_ms <= 0) {
                                fprintf(stderr, "hitlessctl: --timeout must be a positive number of ms\n");
                                return CTL_EXIT_USAGE;
                        }
                        break;
                case 'h': usage(stdout); return CTL_EXIT_OK;
                case 'V': printf("hitlessctl %s\n", HITLESS_VERSION); return CTL_EXIT_OK;
                default: usage(stderr); return CTL_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return CTL_EXIT_USAGE;
        }
        for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
                if (strcmp(argv[optind], commands[i]->name) == 0)
                        return wants_help(argc - optind, argv + optind) ? help(commands[i])
                                                                      : commands[i]->exec(&ctl, argc - optind, argv + optind);
        fprintf(stderr, "hitlessctl: unknown command '%s'\n\n", argv[optind]);
        usage(stderr);
        return CTL_EXIT_USAGE;
}
