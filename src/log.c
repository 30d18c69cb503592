/* log.c — see log.h.  Runs in: front and warden, any thread. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *g_role = "jobcelld";
static _Atomic int g_min = LOG_LVL_INFO; /* a reload changes it (log_set_level) */
static bool g_journal; /* stderr is the journal: lines start with <priority> */

/* systemd sets JOURNAL_STREAM to "dev:ino" of the stream it connected to
 * stderr; it counts only if stderr is still that stream (sd-daemon(3)). */
static bool stderr_is_journal(void)
{
    const char *v = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (!v || sscanf(v, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *role, enum log_level min)
{
    g_role = role;
    atomic_store(&g_min, (int)min);
    g_journal = stderr_is_journal();
}

void log_set_role(const char *role) { g_role = role; }

void log_set_level(enum log_level min) { atomic_store(&g_min, (int)min); }

static const char *level_name(enum log_level l)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    return names[l];
}

/* The syslog priority of a level, as sd-daemon(3)'s SD_DEBUG..SD_ERR. */
static const char *level_prefix(enum log_level l)
{
    static const char *const prefixes[] = {"<7>", "<6>", "<4>", "<3>"};
    return g_journal ? prefixes[l] : "";
}

void log_msg(enum log_level lvl, const char *task, int errnum, const char *fmt, ...)
{
    char line[2048], ts[32], ebuf[128];
    struct timespec now;
    struct tm tm;
    va_list ap;
    int n;

    if ((int)lvl < atomic_load(&g_min))
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line, sizeof line, "%s%s.%03ldZ %s %s%s%s: ", level_prefix(lvl), ts, now.tv_nsec / 1000000,
                 level_name(lvl), g_role, task ? " task=" : "", task ? task : "");
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (errnum && n < (int)sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, ": %s",
                      strerror_r(errnum, ebuf, sizeof ebuf));
    if (n >= (int)sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    (void)!write(STDERR_FILENO, line, (size_t)n);
}

bool log_rate_ok(struct log_rate *r, unsigned *dropped)
{
    struct timespec now;
    bool ok;

    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    pthread_mutex_lock(&r->lock);
    if (ms - r->window_start_ms >= LOG_RATE_WINDOW_S * 1000) {
        r->window_start_ms = ms;
        r->used = 0;
    }
    ok = r->used < LOG_RATE_BURST;
    if (ok) {
        r->used++;
        *dropped = r->suppressed;
        r->suppressed = 0;
    } else {
        r->suppressed++;
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}
