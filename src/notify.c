/* notify.c — sd_notify(3) behind the calls of notify.h.  A failed send is
 * logged at debug level and otherwise ignored: the service manager's view
 * must never stop the daemon.
 * Runs in: the warden's main thread. */
#include "notify.h"

#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"

static uint64_t watchdog_us; /* the unit's WatchdogSec, 0 = none */
static uint64_t last_ping_us;
static int ready_sent;

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail with this clock */
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void notify_send(const char *what)
{
    int rc = sd_notify(0, what);

    if (rc < 0)
        log_debug("sd_notify \"%s\": error %d", what, -rc);
}

void notify_init(void)
{
    uint64_t us = 0;

    if (sd_watchdog_enabled(0, &us) > 0)
        watchdog_us = us;
    last_ping_us = now_us();
}

void notify_ready(const char *status)
{
    char msg[512];

    snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status);
    notify_send(msg);
    ready_sent = 1;
}

void notify_reloaded(const char *status)
{
    char msg[512];

    if (!ready_sent)
        return;
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status);
    notify_send(msg);
}

void notify_status(const char *status)
{
    char msg[512];

    snprintf(msg, sizeof msg, "STATUS=%s", status);
    notify_send(msg);
}

/* MONOTONIC_USEC: systemd 253 and later match it to the reload it asked
 * for (older ones ignore it). */
void notify_reloading(void)
{
    char msg[128];

    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration",
             (unsigned long long)now_us());
    notify_send(msg);
}

void notify_stopping(const char *status)
{
    char msg[512];

    snprintf(msg, sizeof msg, "STOPPING=1\nSTATUS=%s", status);
    notify_send(msg);
}

int notify_watchdog(void)
{
    uint64_t now, half = watchdog_us / 2;

    if (!watchdog_us)
        return -1;
    now = now_us();
    if (now - last_ping_us >= half) {
        notify_send("WATCHDOG=1");
        last_ping_us = now;
    }
    uint64_t left_ms = (last_ping_us + half - now) / 1000 + 1;
    return left_ms > INT32_MAX ? INT32_MAX : (int)left_ms;
}
