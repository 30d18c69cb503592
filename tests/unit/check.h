/* check.h — a minimal assertion harness for jobcell's unit tests.
 * Each test program calls CHECK*() and ends with `return check_summary();`,
 * which prints "N passed, N failed" and returns non-zero on any failure.
 * Runs in: unit-test processes only (no root needed). */
#pragma once

#include <stdio.h>
#include <string.h>

static int check_pass_, check_fail_;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (cond) {                                                           \
            check_pass_++;                                                    \
        } else {                                                              \
            check_fail_++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                     \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                       \
    do {                                                                      \
        const char *h_ = (hay), *n_ = (needle);                               \
        if (h_ && strstr(h_, n_)) {                                           \
            check_pass_++;                                                    \
        } else {                                                              \
            check_fail_++;                                                    \
            fprintf(stderr, "%s:%d: expected \"%s\" to contain \"%s\"\n",     \
                    __FILE__, __LINE__, h_ ? h_ : "(null)", n_);              \
        }                                                                     \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check_pass_, check_fail_);
    return check_fail_ ? 1 : 0;
}
