/* Time sources. Monotonic milliseconds for timers and deadlines (never
 * jumps); wall-clock seconds only for what humans read and for the store. */
#pragma once
#include <stdint.h>
#include <time.h>

static inline int64_t clock_mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic microseconds: for measuring short durations (benchmarks,
 * latency histograms). */
static inline int64_t clock_mono_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Wall-clock milliseconds: for times that must survive a restart (the
 * upgrade executor's health gates and deadlines are stored). */
static inline int64_t clock_wall_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t clock_wall_s(void) {
        return (int64_t) time(NULL);
}
