/* Daemon manners shared by agent and coordinator: signals as a file
 * descriptor (so the poll loop handles them like any socket), and the
 * systemd notification protocol (READY, STATUS, WATCHDOG, RELOADING,
 * STOPPING). Notifications are no-ops outside systemd. */
#pragma once
#include <stdint.h>

/* Blocks SIGTERM, SIGINT and SIGHUP and returns a non-blocking signalfd
 * that reports them, or -errno. Children started by common/exec get the
 * default mask back. */
int daemon_signalfd_open(void);

/* Reads one pending signal from the signalfd: its number, 0 if none. */
int daemon_signalfd_read(int fd);

void daemon_notify_ready(const char *status);
void daemon_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void daemon_notify_reloading(void);
void daemon_notify_reloaded(void);
void daemon_notify_stopping(void);

/* How often to send WATCHDOG=1: half of WATCHDOG_USEC, or 0 when systemd
 * did not enable the watchdog for us. */
int64_t daemon_watchdog_interval_ms(void);
void daemon_notify_watchdog(void);
