/* Scope-bound cleanup (systemd's _cleanup_ idiom): a variable declared
 *   _cleanup_free_ char *s = NULL;   or   _cleanup_close_ int fd = -1;
 * is freed or closed when it goes out of scope, on every return path.
 * For sd-bus objects use libsystemd's own (sd_bus_message_unrefp, ...). */
#pragma once
#include <stdlib.h>
#include <unistd.h>

static inline void hl_freep(void *p) {
        free(*(void **) p);
}

static inline void hl_closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

#define _cleanup_free_ __attribute__((cleanup(hl_freep)))
#define _cleanup_close_ __attribute__((cleanup(hl_closep)))
