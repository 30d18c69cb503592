/* notify.h — telling a service manager how the daemon is doing
 * (sd_notify(3)): READY=1 once the front serves, STATUS= lines,
 * RELOADING=1, STOPPING=1, and WATCHDOG=1 when the unit sets WatchdogSec.
 * Without NOTIFY_SOCKET (not started by systemd) every call does nothing.
 * Runs in: the warden's main thread: the warden is the unit's main PID,
 * the only one systemd listens to by default (NotifyAccess=main). */
#pragma once

/* Read WATCHDOG_USEC once, before the first call below. */
void notify_init(void);

/* READY=1 with a STATUS= line saying what is served. */
void notify_ready(const char *status);

/* A STATUS= line (shown by systemctl status). */
void notify_status(const char *status);

/* RELOADING=1 (with MONOTONIC_USEC=): a reload began; notify_reloaded()
 * when it is done. */
void notify_reloading(void);

/* READY=1 again after a reload, with a STATUS= saying how it went (nothing
 * if notify_ready() never ran: a SIGHUP before the front serves must not
 * claim it does). */
void notify_reloaded(const char *status);

/* STOPPING=1: an orderly stop began. */
void notify_stopping(const char *status);

/* With a watchdog: WATCHDOG=1 when half its period has passed since the
 * last one.  Returns how many ms until the next is due (-1: no watchdog),
 * to bound the caller's poll(). */
int notify_watchdog(void);
