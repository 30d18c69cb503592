/* api.h — the HTTP API's route table (handlers in api.c).
 * Runs in: the front's HTTP threads. */
#pragma once

#include <stddef.h>

#include "http.h"

extern const struct http_route api_routes[];
extern const size_t api_nroutes;

/* Wakes a POST waiting for its spawn (tasks_wake_fn). */
void api_wake(void *waiter);
