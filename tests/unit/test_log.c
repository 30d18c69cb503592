/* test_log.c — unit tests for log.c's rate limiter: a burst passes, the
 * rest of the window is dropped and counted, and the count is handed to the
 * first line let through afterwards.  Runs in: a unit-test process. */
#include "log.h"

#include "check.h"

static void test_burst_then_drop(void)
{
    struct log_rate r = LOG_RATE_INIT;
    unsigned dropped = 99, passed = 0;

    for (int i = 0; i < 1000; i++)
        passed += log_rate_ok(&r, &dropped);
    CHECK(passed == LOG_RATE_BURST);
    CHECK(dropped == 0); /* the last line let through had dropped none */
    CHECK(r.suppressed == 1000 - LOG_RATE_BURST);
}

static void test_count_handed_on(void)
{
    struct log_rate r = LOG_RATE_INIT;
    unsigned dropped;

    for (int i = 0; i < LOG_RATE_BURST + 5; i++)
        (void)log_rate_ok(&r, &dropped);
    r.window_start_ms -= LOG_RATE_WINDOW_S * 1000; /* the window has passed */
    CHECK(log_rate_ok(&r, &dropped) && dropped == 5);
    CHECK(log_rate_ok(&r, &dropped) && dropped == 0);
}

int main(void)
{
    test_burst_then_drop();
    test_count_handed_on();
    return check_summary();
}
