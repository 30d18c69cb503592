/* log.h — one line per event on stderr: time, level, role, optional task id.
 * log_warn() appends strerror(errno); log_warnx() does not (OpenBSD habit).
 * Runs in: front and warden (each sets its role once with log_init()).
 * Thread-safe: each line is formatted into a buffer and written with one
 * write(2).  Never called between clone() and execve(). */
#pragma once

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

void log_init(const char *role, enum log_level min);
void log_set_role(const char *role);

void log_msg(enum log_level lvl, const char *task, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_info(...) log_msg(LOG_LVL_INFO, NULL, 0, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, NULL, 0, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LVL_WARN, NULL, 0, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, NULL, errno, __VA_ARGS__)
#define log_errx(...) log_msg(LOG_LVL_ERROR, NULL, 0, __VA_ARGS__)
#define log_task(id, ...) log_msg(LOG_LVL_INFO, (id), 0, __VA_ARGS__)
#define log_task_warn(id, ...) log_msg(LOG_LVL_WARN, (id), 0, __VA_ARGS__)
