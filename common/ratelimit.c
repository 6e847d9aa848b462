#include "common/ratelimit.h"

void ratelimit_init(ratelimit_t *rl, double per_second, double burst) {
        rl->per_second = per_second;
        rl->burst = burst;
        rl->tokens = burst;
        rl->last_ms = -1;
        rl->suppressed = 0;
}

bool ratelimit_allow(ratelimit_t *rl, int64_t now_ms) {
        if (rl->last_ms >= 0 && now_ms > rl->last_ms) {
                rl->tokens += (double) (now_ms - rl->last_ms) * rl->per_second / 1000.0;
                if (rl->tokens > rl->burst)
                        rl->tokens = rl->burst;
        }
        if (rl->last_ms < 0 || now_ms > rl->last_ms)
                rl->last_ms = now_ms;
        if (rl->tokens >= 1.0) {
                rl->tokens -= 1.0;
                return true;
        }
        rl->suppressed++;
        return false;
}

uint64_t ratelimit_take_suppressed(ratelimit_t *rl) {
        uint64_t n = rl->suppressed;
        rl->suppressed = 0;
        return n;
}
