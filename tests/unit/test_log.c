/* test_log.c — unit tests for log.c's rate limiter: a burst passes, the
 * rest of the window is dropped and counted, and the count is handed to the
 * first line let through afterwards; and the journald priority prefix:
 * present exactly when JOURNAL_STREAM names stderr.
 * Runs in: a unit-test process. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Log one warning and one info line with stderr on a temporary file and
 * JOURNAL_STREAM set to env (NULL: the file's own dev:ino); the output. */
static void logged(const char *env, char *out, size_t len)
{
    FILE *f = tmpfile();
    int saved = dup(STDERR_FILENO);
    struct stat st;
    char own[64];

    CHECK(f && saved >= 0 && fstat(fileno(f), &st) == 0);
    snprintf(own, sizeof own, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", env ? env : own, 1);
    CHECK(dup2(fileno(f), STDERR_FILENO) == STDERR_FILENO);
    log_init("test", LOG_LVL_DEBUG);
    log_warnx("first");
    log_info("second");
    CHECK(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
    close(saved);
    unsetenv("JOURNAL_STREAM");
    log_init("test", LOG_LVL_INFO);
    rewind(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = 0;
    fclose(f);
}

static void test_journal_prefix(void)
{
    char out[512];

    logged(NULL, out, sizeof out);
    CHECK(strncmp(out, "<4>", 3) == 0 && strstr(out, " warn test: first\n"));
    CHECK(strstr(out, "\n<6>") && strstr(out, " info test: second\n"));
    logged("1:1", out, sizeof out); /* another stream: stderr is not the journal */
    CHECK(out[0] != '<' && !strchr(out, '<'));
    CHECK(strstr(out, " warn test: first\n") != NULL);
}

int main(void)
{
    test_journal_prefix();
    test_burst_then_drop();
    test_count_handed_on();
    return check_summary();
}
