/* Daemon manners shared by agent and coordinator: signals as a file
 * descriptor (so the poll loop handles them like any socket), and the
 * systemd notification protocol (READY, STATUS, WATCHDOG, RELOADING,
 * STOPPING). Notifications are no-ops outside systemd. */
#pragma once
#include <stdint.h>

#include "common/attrs.h"

/* Blocks SIGTERM, SIGINT and SIGHUP and returns a non-blocking signalfd
 * that reports them, or -errno. Children started by common/exec get the
 * default mask back. */
HL_MUST_USE int daemon_signalfd_open(void);

/* Reads one pending signal from the signalfd: its number, 0 if none. */
HL_MUST_USE int daemon_signalfd_read(int fd);

void daemon_notify_ready(const char *status);
void daemon_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void daemon_notify_reloading(void);
void daemon_notify_reloaded(void);
void daemon_notify_stopping(void);

/* WATCHDOG=1 at half of WATCHDOG_USEC, when systemd enabled the watchdog
 * for us; otherwise the watchdog never comes due. */
typedef struct {
        int64_t interval_ms;   /* 0: disabled */
        int64_t next_ms;
} daemon_watchdog_t;

void daemon_watchdog_init(daemon_watchdog_t *w);
/* Milliseconds until the next ping is due (INT64_MAX when disabled). */
int64_t daemon_watchdog_wait_ms(const daemon_watchdog_t *w, int64_t now_ms);
/* Pings systemd if due. */
void daemon_watchdog_tick(daemon_watchdog_t *w, int64_t now_ms);
