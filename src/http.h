/* http.h — the libmicrohttpd server: per-request state, bounded bodies, a
 * route table, JSON replies, suspend/resume for answers that wait on the
 * warden.  Handlers live in api.c and never see libmicrohttpd's callback
 * protocol.  Runs in: the front (libmicrohttpd's pool threads). */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "task.h"

struct front;
struct http_route;

struct http_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    const struct http_route *route; /* found once, from the request line */
    char id[JC_ID_LEN]; /* the {id} of the route, if any */
    char *body;
    size_t len, cap;
    size_t max_body;    /* the server's, read once at the request's start */
    bool too_big;
    bool dispatched;    /* the handler ran once (it runs again on resume) */
    int64_t start_ms;   /* monotonic: the request line arrived (access log) */
    bool counted;       /* its answer is in the metrics */
    void *state;        /* handler-owned (its progress across suspensions), freed by http.c with free() */
};

struct http_reply {
    unsigned status;
    const char *content_type;
    char *body;         /* malloc'd, or NULL */
    int fd;             /* or a file to send (closed by the server), -1 */
    size_t fd_size;     /*   this many bytes of it, */
    uint64_t fd_offset; /*   from here */
    struct MHD_Response *resp; /* or a response the handler built (a stream) */
    char location[128];
    char allow[64];
    int retry_after;    /* seconds, 0: none */
    bool replayed;      /* Idempotent-Replayed: true */
};

/* What a handler returns. */
enum http_result { HTTP_ANSWER, HTTP_SUSPEND };

typedef enum http_result (*http_handler)(struct front *f, struct http_req *r,
                                         struct http_reply *out);

struct http_route {
    const char *method;
    const char *pattern; /* "/api/tasks/{id}/logs": {id} matches a task id */
    http_handler fn;
};

struct http_server;

struct http_opts {
    unsigned threads, max_conns, per_ip_conns, timeout_s;
    unsigned request_timeout_s; /* head + body must arrive within this */
    size_t max_body;
    const char *token;  /* required as "Bearer <token>" on /api routes and /metrics; "" = none */
    int access_log;     /* enum log_level of the access log's lines, or -1: none */
    bool unix_socket;   /* peers are checked with SO_PEERCRED: */
    uid_t peer_uid;     /*   root, this uid, */
    gid_t peer_gid;     /*   or this primary group may connect */
};

/* A reload (SIGHUP): the body cap of requests that start from now on, the
 * access log's level (-1: off), and the bound on a request's arrival. */
void http_set_live(struct http_server *s, size_t max_body, int access_log, unsigned request_timeout_s);

/* Replace the bearer token (SIGHUP); only when one was required at start. */
void http_set_token(struct http_server *s, const char *token);

struct http_server *http_start(struct front *f, int listen_fd, const struct http_route *routes,
                               size_t nroutes, const struct http_opts *opts, struct jc_err *err);
void http_stop(struct http_server *s);
/* Stop accepting connections; wait up to timeout_ms for open ones to end;
 * then answer 503 to those still waiting in the listen backlog. */
void http_quiesce(struct http_server *s, int timeout_ms);

/* A query parameter, or NULL. */
const char *http_query(struct http_req *r, const char *key);
/* A request header, or NULL. */
const char *http_header(struct http_req *r, const char *name);

/* Resume a suspended request (from any thread). */
void http_resume(struct http_req *r);

/* Replies. */
void http_json(struct http_reply *out, unsigned status, char *json);
void http_error(struct http_reply *out, const struct jc_err *err);
void http_error_msg(struct http_reply *out, unsigned status, const char *msg);
