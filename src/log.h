/* log.h — one line per event on stderr: time, level, role, optional task id.
 * log_warn() appends strerror(errno); log_warnx() does not (OpenBSD habit).
 * Runs in: front and warden (each sets its role once with log_init()).
 * Thread-safe: each line is formatted into a buffer and written with one
 * write(2).  Never called between clone() and execve().
 * Lines a client can cause in bulk (libmicrohttpd's, refused connections)
 * go through a struct log_rate: at most LOG_RATE_BURST per
 * LOG_RATE_WINDOW_S, then one line saying how many were dropped. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

void log_init(const char *role, enum log_level min);
void log_set_role(const char *role);
/* The least level logged from now on (a reload, any thread). */
void log_set_level(enum log_level min);

void log_msg(enum log_level lvl, const char *task, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_info(...) log_msg(LOG_LVL_INFO, NULL, 0, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, NULL, 0, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LVL_WARN, NULL, 0, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, NULL, errno, __VA_ARGS__)
#define log_errx(...) log_msg(LOG_LVL_ERROR, NULL, 0, __VA_ARGS__)
#define log_task(id, ...) log_msg(LOG_LVL_INFO, (id), 0, __VA_ARGS__)
#define log_task_warn(id, ...) log_msg(LOG_LVL_WARN, (id), 0, __VA_ARGS__)

#define LOG_RATE_BURST 10
#define LOG_RATE_WINDOW_S 10

struct log_rate {
    pthread_mutex_t lock;
    int64_t window_start_ms;
    unsigned used, suppressed;
};
#define LOG_RATE_INIT {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0}

/* true: log this line; *dropped is how many were left out before it. */
bool log_rate_ok(struct log_rate *r, unsigned *dropped);
