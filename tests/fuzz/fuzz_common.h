/* Shared by every fuzz target (header only: the Makefile builds each
 * tests/fuzz/fuzz_*.c as its own program, so this is in one unit per
 * program). */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The targets are built with -fsanitize=undefined in its default
 * recovering mode, where a report is printed and the run goes on (and
 * passes). Make the first report fatal, so that it fails like an ASan one
 * and leaves a crash input behind. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) {
        return "halt_on_error=1:print_stacktrace=1";
}

static volatile uint64_t fuzz_sink;

#define FUZZ_CHECK(cond)                                                              \
        do {                                                                          \
                if (!(cond)) {                                                        \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                                #cond);                                               \
                        abort();                                                      \
                }                                                                     \
        } while (0)

static inline void fuzz_touch(const void *p, size_t n) {
        const unsigned char *b = p;
        uint64_t h = 0;
        for (size_t i = 0; i < n; i++)
                h = h * 31 + b[i];
        fuzz_sink += h;
}

static inline const char *fuzz_str(const char *s) {
        FUZZ_CHECK(s != NULL); /* proto3 strings decode to "" at least */
        fuzz_touch(s, strlen(s) + 1);
        return s;
}

