#include "common/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

int daemon_signalfd_open(void) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int daemon_signalfd_read(int fd) {
        struct signalfd_siginfo si;
        ssize_t n = read(fd, &si, sizeof si);
        if (n != (ssize_t) sizeof si)
                return 0;
        return (int) si.ssi_signo;
}

void daemon_notify_ready(const char *status) {
        sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void daemon_notify_status(const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        sd_notifyf(0, "STATUS=%s", buf);
}

void daemon_notify_reloading(void) {
        sd_notify(0, "RELOADING=1");
}

void daemon_notify_reloaded(void) {
        sd_notify(0, "READY=1");
}

void daemon_notify_stopping(void) {
        sd_notify(0, "STOPPING=1");
}

void daemon_watchdog_init(daemon_watchdog_t *w) {
        uint64_t usec = 0;
        w->interval_ms = 0;
        w->next_ms = 0;
        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
                w->interval_ms = (int64_t) (usec / 2000);
}

int64_t daemon_watchdog_wait_ms(const daemon_watchdog_t *w, int64_t now_ms) {
        if (!w->interval_ms)
                return INT64_MAX;
        return w->next_ms > now_ms ? w->next_ms - now_ms : 0;
}

void daemon_watchdog_tick(daemon_watchdog_t *w, int64_t now_ms) {
        if (!w->interval_ms || now_ms < w->next_ms)
                return;
        sd_notify(0, "WATCHDOG=1");
        w->next_ms = now_ms + w->interval_ms;
}
