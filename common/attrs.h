/* Compiler attributes shared by every part of hitless. */
#pragma once

/* Before the declaration of a function whose result says whether it did
 * what was asked (state written, a file read, a message sent): a caller
 * that drops the result gets a warning, an error under -Werror. Where
 * ignoring is right, the caller writes `(void) f(...);` with a comment
 * saying why (systemd's rule).
 *
 * GCC does not let a (void) cast silence warn_unused_result, only
 * [[nodiscard]] (which it accepts in C11 mode); clang before C2x knows
 * only the former, and silences it with (void). A compiler with neither
 * builds without the check. */
#if defined(__clang__)
#define HL_MUST_USE __attribute__((warn_unused_result))
#elif defined(__has_c_attribute)
#if __has_c_attribute(nodiscard)
#define HL_MUST_USE [[nodiscard]]
#endif
#endif
#ifndef HL_MUST_USE
#define HL_MUST_USE
#endif
