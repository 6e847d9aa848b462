/* Token bucket: at most `burst` events at once, refilled at `per_second`.
 * Used for log lines about bad input and for admitting new pending keys, so
 * that a flood costs a counter increment, not a log line or a row. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

typedef struct {
        double per_second;
        double burst;
        double tokens;
        int64_t last_ms;
        uint64_t suppressed;  /* events refused since the last allowed one */
} ratelimit_t;

void ratelimit_init(ratelimit_t *rl, double per_second, double burst);

/* True if the event at monotonic time now_ms may go ahead (takes a token);
 * false counts it as suppressed. */
bool ratelimit_allow(ratelimit_t *rl, int64_t now_ms);

/* Returns and clears the number of suppressed events, for "(N suppressed)". */
uint64_t ratelimit_take_suppressed(ratelimit_t *rl);
