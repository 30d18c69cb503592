/* http.c — libmicrohttpd glue (see http.h).
 *
 * Request lifecycle (the libmicrohttpd protocol): the first call allocates a
 * struct http_req and checks what can be checked from the headers alone
 * (route, method, Content-Type, Content-Length); calls with upload data
 * append to a body capped at max_body; the last call dispatches to the
 * handler.  A handler may suspend the connection (until the warden answers,
 * or a held ?wait= ends) and runs again on resume; the request is freed only
 * in the completion callback.
 *
 * Slow clients (what libmicrohttpd does not bound, this file does): every
 * connection has a struct conn_slot from its start to its close.  A
 * request whose head and body have not all arrived within
 * request_timeout_s of its start (or of the previous answer, on a kept-alive
 * connection) is closed by the reaper thread, however it trickles
 * (MHD_OPTION_CONNECTION_TIMEOUT counts only idle time).  The shares of
 * max_connections and per_ip_connections are enforced here too: a new
 * connection past either closes the oldest connection of that scope that is
 * still incomplete (a well-behaved client completes its request at once, so
 * it is never the oldest), and only when every one is being answered is the
 * new one refused.  A connection is closed with shutdown() through a
 * duplicate of its descriptor, so a number libmicrohttpd has closed and
 * reused is never hit.
 * Runs in: the front, libmicrohttpd's threads and the reaper thread. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "jsonutil.h"
#include "log.h"
#include "metrics.h"
#include "taskid.h"
#include "util.h"

/* Headroom above max_connections in libmicrohttpd's own limit, so that a
 * new connection still reaches on_connection() to take a slow one's place. */
#define HTTP_EVICT_HEADROOM 64

struct conn_slot {
    struct conn_slot *prev, *next; /* oldest first */
    int fd;           /* our duplicate of the socket */
    uint32_t ip;      /* IPv4 client address (network order); 0: unix socket */
    int64_t since_ms; /* start of the current request */
    bool answering;   /* head and body are in: no deadline */
    bool doomed;      /* shut down; libmicrohttpd closes it next */
};

struct conn_guard {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t reaper;
    bool reaper_started, stop;
    struct conn_slot list; /* sentinel of a circular list */
    unsigned live;         /* slots not doomed */
};

struct http_server {
    struct MHD_Daemon *mhd;
    struct conn_guard guard;
    struct front *front;
    const struct http_route *routes;
    size_t nroutes;
    _Atomic size_t max_body; /* a reload changes these three (http_set_live); */
    _Atomic int access_log;  /* a request reads max_body once, at its start */
    _Atomic unsigned request_timeout_s;
    struct http_opts opts; /* .token, .max_body, .access_log, .request_timeout_s unused after start */
    pthread_mutex_t token_lock;
    char token[JC_TOKEN_SIZE]; /* under token_lock; replaced by http_set_token() */
};

/* ---- replies ---------------------------------------------------------- */

void http_json(struct http_reply *out, unsigned status, char *json)
{
    out->status = status;
    out->content_type = "application/json";
    out->body = json;
}

void http_error_msg(struct http_reply *out, unsigned status, const char *msg)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "error", json_object_new_string(msg));
    http_json(out, status, strdup(json_object_to_json_string_ext(o, JU_PRINT)));
    json_object_put(o);
}

void http_error(struct http_reply *out, const struct jc_err *err)
{
    unsigned status = err->status ? (unsigned)err->status : 500;

    /* 503 is load shedding and 507 a full log space (logspace.c), not faults. */
    if (status >= 500 && status != 503 && status != 507)
        log_warnx("internal error: %s", err->msg);
    http_error_msg(out, status, err->msg);
}

static struct MHD_Response *make_response(struct http_reply *out)
{
    struct MHD_Response *resp;

    if (out->resp)
        resp = out->resp;
    else if (out->fd >= 0)
        resp = MHD_create_response_from_fd_at_offset64(out->fd_size, out->fd, out->fd_offset);
    else
        resp = MHD_create_response_from_buffer(out->body ? strlen(out->body) : 0,
                                               out->body ? out->body : (char *)"",
                                               out->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return NULL;
    out->body = NULL;
    out->fd = -1;
    out->resp = NULL;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, out->content_type);
    if (out->location[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, out->location);
    if (out->allow[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, out->allow);
    if (out->replayed)
        MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    if (out->retry_after > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", out->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    return resp;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct http_reply *out)
{
    struct MHD_Response *resp = make_response(out);
    enum MHD_Result rc;

    if (!resp) {
        free(out->body);
        if (out->fd >= 0)
            close(out->fd);
        return MHD_NO;
    }
    rc = MHD_queue_response(conn, out->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *msg,
                                  const char *allow)
{
    struct http_reply out = {.fd = -1};

    http_error_msg(&out, status, msg);
    if (allow)
        snprintf(out.allow, sizeof out.allow, "%s", allow);
    return send_reply(conn, &out);
}

/* ---- access control ------------------------------------------------------ */

/* Equal in time independent of where the first difference is. */
static bool token_equal(const char *given, const char *want)
{
    size_t gl = strlen(given), wl = strlen(want);
    unsigned char diff = (unsigned char)(gl != wl);

    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)(want[i] ^ (i < gl ? given[i] : 0));
    return diff == 0;
}

static bool bearer_ok(struct http_server *s, struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    for (h += 7; *h == ' ';)
        h++;
    pthread_mutex_lock(&s->token_lock);
    bool ok = token_equal(h, s->token);
    pthread_mutex_unlock(&s->token_lock);
    return ok;
}

void http_set_live(struct http_server *s, size_t max_body, int access_log, unsigned request_timeout_s)
{
    atomic_store(&s->max_body, max_body);
    atomic_store(&s->access_log, access_log);
    atomic_store(&s->request_timeout_s, request_timeout_s);
}

void http_set_token(struct http_server *s, const char *token)
{
    pthread_mutex_lock(&s->token_lock);
    explicit_bzero(s->token, sizeof s->token);
    snprintf(s->token, sizeof s->token, "%s", token);
    pthread_mutex_unlock(&s->token_lock);
}

static enum MHD_Result send_unauthorized(struct MHD_Connection *conn)
{
    struct http_reply out = {.fd = -1};

    http_error_msg(&out, 401, "Missing or invalid bearer token (header Authorization: Bearer <token>)");
    struct MHD_Response *resp = make_response(&out);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"jobcell\"");
    enum MHD_Result rc = MHD_queue_response(conn, 401, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* The peer's supplementary groups (SO_PEERGROUPS, Linux 4.13+). */
static bool peer_in_group(int fd, gid_t gid)
{
    gid_t groups[256];
    socklen_t len = sizeof groups;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
        return false;
    for (size_t i = 0; i < len / sizeof *groups; i++)
        if (groups[i] == gid)
            return true;
    return false;
}

/* Unix socket: only root, the service user or members of its group. */
static bool peer_ok(const struct http_server *s, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci;
    struct ucred cred;
    socklen_t len = sizeof cred;

    if (!s->opts.unix_socket)
        return true;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return false;
    if (cred.uid == 0 || cred.uid == s->opts.peer_uid || cred.gid == s->opts.peer_gid)
        return true;
    return peer_in_group(ci->connect_fd, s->opts.peer_gid);
}

/* MHD_YES/MHD_NO after queueing a refusal, or -1 to go on. */
static int check_access(struct http_server *s, struct MHD_Connection *conn, const char *url)
{
    if (!peer_ok(s, conn))
        return send_error(conn, 403, "This unix socket's peer is not allowed", NULL);
    /* /metrics too: see docs/security.md. */
    bool api = strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0 || strcmp(url, "/metrics") == 0;

    /* Whether a token is needed is fixed at start-up (a reload replaces one). */
    if (s->opts.token[0] && api && !bearer_ok(s, conn))
        return send_unauthorized(conn);
    return -1;
}

/* ---- routing ---------------------------------------------------------- */

/* Does url match pattern?  "{id}" matches one path segment, captured. */
static bool match(const char *pattern, const char *url, char id[JC_ID_LEN])
{
    while (*pattern && *url) {
        if (strncmp(pattern, "{id}", 4) == 0) {
            size_t n = strcspn(url, "/");
            if (n == 0)
                return false;
            if (n < JC_ID_LEN) {
                memcpy(id, url, n);
                id[n] = 0;
            }
            if (n >= JC_ID_LEN || !jc_id_valid(id))
                id[0] = 0; /* no task id (taskid.h): the handler answers 404 */
            url += n;
            pattern += 4;
            continue;
        }
        if (*pattern++ != *url++)
            return false;
    }
    return *pattern == 0 && *url == 0;
}

/* The route for method+url; or NULL with *allow listing the methods the
 * path supports (empty when the path is unknown). */
static const struct http_route *route(const struct http_server *s, const char *method,
                                      const char *url, char id[JC_ID_LEN], char *allow, size_t alen)
{
    allow[0] = 0;
    for (size_t i = 0; i < s->nroutes; i++) {
        if (!match(s->routes[i].pattern, url, id))
            continue;
        if (strcmp(s->routes[i].method, method) == 0)
            return &s->routes[i];
        size_t n = strlen(allow);
        snprintf(allow + n, alen - n, "%s%s", n ? ", " : "", s->routes[i].method);
    }
    return NULL;
}

/* ---- slow clients: the whole-request deadline and fair shares ---------- */

static struct log_rate g_refusal_rate = LOG_RATE_INIT;

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_refusal(const char *what, uint32_t ip)
{
    char addr[INET_ADDRSTRLEN] = "unix";
    unsigned dropped;

    if (!log_rate_ok(&g_refusal_rate, &dropped))
        return;
    if (ip)
        inet_ntop(AF_INET, &ip, addr, sizeof addr);
    if (dropped)
        log_info("%u lines about closed connections left out (rate limit)", dropped);
    log_info("connection from %s closed: %s", addr, what);
}

static void list_unlink(struct conn_slot *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
}

static void list_append(struct conn_guard *g, struct conn_slot *c)
{
    c->prev = g->list.prev;
    c->next = &g->list;
    g->list.prev->next = c;
    g->list.prev = c;
}

static void doom(struct conn_guard *g, struct conn_slot *c, const char *why)
{
    c->doomed = true;
    g->live--;
    if (shutdown(c->fd, SHUT_RDWR) < 0 && errno != ENOTCONN)
        log_warn("shutdown of a client connection");
    log_refusal(why, c->ip);
}

/* The oldest incomplete connection other than `not` (of address ip, when
 * ip is not 0); NULL when all are being answered. */
static struct conn_slot *oldest_incomplete(struct conn_guard *g, uint32_t ip, struct conn_slot *not)
{
    for (struct conn_slot *c = g->list.next; c != &g->list; c = c->next)
        if (c != not && !c->doomed && !c->answering && (!ip || c->ip == ip))
            return c;
    return NULL;
}

static unsigned count_ip(struct conn_guard *g, uint32_t ip)
{
    unsigned n = 0;

    for (struct conn_slot *c = g->list.next; c != &g->list; c = c->next)
        n += !c->doomed && c->ip == ip;
    return n;
}

/* A new connection past a share takes the place of the oldest incomplete
 * one of that share, or is refused. */
static void enforce_shares(struct http_server *s, struct conn_slot *c)
{
    struct conn_guard *g = &s->guard;
    struct conn_slot *v;

    if (c->ip && s->opts.per_ip_conns && count_ip(g, c->ip) > s->opts.per_ip_conns) {
        v = oldest_incomplete(g, c->ip, c);
        doom(g, v ? v : c, v ? "the oldest incomplete request of an address at per_ip_connections"
                             : "per_ip_connections reached");
        if (!v)
            return;
    }
    if (g->live > s->opts.max_conns) {
        v = oldest_incomplete(g, 0, c);
        doom(g, v ? v : c, v ? "the oldest incomplete request at max_connections"
                             : "max_connections reached");
    }
}

static void slot_open(struct http_server *s, struct MHD_Connection *conn, void **ctx)
{
    const union MHD_ConnectionInfo *fdi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct conn_slot *c = calloc(1, sizeof *c);

    if (!c || !fdi || (c->fd = fcntl(fdi->connect_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
        log_warn("tracking a connection");
        if (fdi)
            (void)shutdown(fdi->connect_fd, SHUT_RDWR); /* untracked: not served */
        free(c);
        return;
    }
    if (ai && ai->client_addr && ai->client_addr->sa_family == AF_INET)
        c->ip = ((const struct sockaddr_in *)(const void *)ai->client_addr)->sin_addr.s_addr;
    c->since_ms = mono_ms();
    pthread_mutex_lock(&s->guard.lock);
    list_append(&s->guard, c);
    s->guard.live++;
    enforce_shares(s, c);
    pthread_mutex_unlock(&s->guard.lock);
    *ctx = c;
}

static void slot_close(struct http_server *s, void **ctx)
{
    struct conn_slot *c = *ctx;

    if (!c)
        return;
    pthread_mutex_lock(&s->guard.lock);
    list_unlink(c);
    if (!c->doomed)
        s->guard.live--;
    pthread_mutex_unlock(&s->guard.lock);
    close(c->fd);
    free(c);
    *ctx = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        slot_open(cls, conn, ctx);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        slot_close(cls, ctx);
}

/* The request is in (answering) or answered (the next one starts now). */
static void slot_mark(struct http_server *s, struct MHD_Connection *conn, bool answering)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_slot *c = ci ? ci->socket_context : NULL;

    if (!c)
        return;
    pthread_mutex_lock(&s->guard.lock);
    c->answering = answering;
    if (!answering) { /* to the tail: the list stays oldest first */
        c->since_ms = mono_ms();
        list_unlink(c);
        list_append(&s->guard, c);
    }
    pthread_mutex_unlock(&s->guard.lock);
}

static void reap_overdue(struct http_server *s)
{
    int64_t limit = mono_ms() - (int64_t)atomic_load(&s->request_timeout_s) * 1000;

    for (struct conn_slot *c = s->guard.list.next; c != &s->guard.list; c = c->next)
        if (!c->doomed && !c->answering && c->since_ms < limit)
            doom(&s->guard, c, "request_timeout_s passed before the request was complete");
}

/* A look every 100 ms: a deadline is kept to a tenth of its smallest value. */
static void *reaper_main(void *arg)
{
    struct http_server *s = arg;
    struct conn_guard *g = &s->guard;
    const long step = 100;

    jc_name_thread("jc-conn-reaper");
    log_set_role("front");
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += step * 1000000;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&g->cond, &g->lock, &ts);
        reap_overdue(s);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

static int guard_start(struct http_server *s, struct jc_err *err)
{
    struct conn_guard *g = &s->guard;
    pthread_condattr_t ca;

    g->list.next = g->list.prev = &g->list;
    pthread_mutex_init(&g->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->reaper, NULL, reaper_main, s) != 0)
        return jc_fail(err, 0, "cannot start the connection reaper thread");
    g->reaper_started = true;
    return 0;
}

static void guard_stop(struct http_server *s)
{
    struct conn_guard *g = &s->guard;

    if (!g->reaper_started)
        return;
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_signal(&g->cond);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->reaper, NULL);
    g->reaper_started = false;
}

/* libmicrohttpd's own messages, into the daemon's log at a bounded rate. */
__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    static struct log_rate rate = LOG_RATE_INIT;
    char line[512];
    unsigned dropped;

    (void)cls;
    if (!log_rate_ok(&rate, &dropped))
        return;
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\r\n")] = 0;
    if (dropped)
        log_warnx("libmicrohttpd: %u messages left out (rate limit)", dropped);
    log_warnx("libmicrohttpd: %s", line);
}

/* ---- the request lifecycle --------------------------------------------- */

static void peer_text(struct MHD_Connection *conn, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    snprintf(buf, len, "unix");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, (socklen_t)len);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, (socklen_t)len);
}

static unsigned queued_status(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);

    return ci ? ci->http_status : 0;
}

/* Count an answer as soon as it is queued (before the client can see it,
 * so a scrape that follows an answer always counts it). */
static void count(const struct http_server *s, struct MHD_Connection *conn, const struct http_route *rt)
{
    unsigned status = queued_status(conn);

    if (status)
        metrics_http(rt ? (int)(rt - s->routes) : -1, status);
}

/* The access log's line for a request whose answer was sent (or is on its
 * way); none for a request closed before any answer was queued. */
static void access_line(const struct http_server *s, struct MHD_Connection *conn, const char *method,
                        const struct http_route *rt, int64_t start_ms)
{
    unsigned status = queued_status(conn);
    char peer[INET6_ADDRSTRLEN];

    int level = atomic_load(&s->access_log);

    if (level < 0 || !status)
        return;
    peer_text(conn, peer, sizeof peer);
    log_msg((enum log_level)level, NULL, 0, "access: %s %s %u %lldms peer=%s", method,
            rt ? rt->pattern : "unmatched", status, (long long)(mono_ms() - start_ms), peer);
}

static bool is_json_type(const char *ct)
{
    size_t n = strlen("application/json");

    return ct && strncasecmp(ct, "application/json", n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* The route, found once per request.  An unknown route or method is the
 * cause to report, before any header check.  MHD_YES/MHD_NO after queueing
 * the error, or -1 to go on. */
static int find_route(const struct http_server *s, struct MHD_Connection *conn, const char *method,
                      const char *url, const struct http_route **rt, char id[JC_ID_LEN])
{
    char allow[64];

    if ((*rt = route(s, method, url, id, allow, sizeof allow)))
        return -1;
    return allow[0] ? send_error(conn, 405, "Method not allowed", allow)
                    : send_error(conn, 404, "No such route", NULL);
}

/* Checks that need only the headers.  Returns MHD_YES after queueing an
 * error, or -1 to go on. */
static int check_headers(struct MHD_Connection *conn, const char *method, size_t max_body)
{
    const char *cl, *ct;

    if (strcmp(method, "POST") != 0)
        return -1;
    ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!is_json_type(ct))
        return send_error(conn, 415, "Content-Type must be application/json", NULL);
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > max_body) {
        char msg[96];
        snprintf(msg, sizeof msg, "Request body exceeds %zu bytes", max_body);
        return send_error(conn, 413, msg, NULL);
    }
    return -1;
}

static int append_body(struct http_req *r, const char *data, size_t len)
{
    if (r->too_big || len > r->max_body - r->len) {
        r->too_big = true; /* keep reading, discard: answer 413 at the end */
        return 0;
    }
    if (r->len + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        while (cap < r->len + len + 1)
            cap *= 2;
        char *nb = realloc(r->body, cap);
        if (!nb)
            return -1;
        r->body = nb;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = 0;
    return 0;
}

static enum MHD_Result answer(struct http_server *s, struct http_req *r)
{
    struct http_reply out = {.status = 200, .content_type = "application/json", .fd = -1};

    if (r->too_big) {
        char msg[96];
        snprintf(msg, sizeof msg, "Request body exceeds %zu bytes", r->max_body);
        return send_error(r->conn, 413, msg, NULL);
    }
    if (r->route->fn(s->front, r, &out) == HTTP_SUSPEND)
        return MHD_YES;
    return send_reply(r->conn, &out);
}

static enum MHD_Result dispatch(struct http_server *s, struct http_req *r)
{
    enum MHD_Result rc = answer(s, r);

    if (!r->counted && queued_status(r->conn)) { /* not while suspended */
        r->counted = true;
        count(s, r->conn, r->route);
    }
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_req *r = *con_cls;
    const struct http_route *rt = NULL;
    char id[JC_ID_LEN] = "", allow[64];
    int early;

    if (!r) {
        int64_t start_ms = mono_ms();
        size_t max_body = atomic_load(&s->max_body);
        if ((early = check_access(s, conn, url)) >= 0 ||
            (early = find_route(s, conn, method, url, &rt, id)) >= 0 ||
            (early = check_headers(conn, method, max_body)) >= 0) {
            slot_mark(s, conn, true);
            if (!rt) /* refused before routing: the route is only a label */
                rt = route(s, method, url, id, allow, sizeof allow);
            count(s, conn, rt);
            access_line(s, conn, method, rt, start_ms);
            return (enum MHD_Result)early;
        }
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        r->route = rt;
        r->start_ms = start_ms;
        r->max_body = max_body;
        memcpy(r->id, id, sizeof r->id);
        r->conn = conn;
        r->method = method;
        r->url = url;
        *con_cls = r;
        return MHD_YES;
    }
    if (*data_size) {
        if (append_body(r, data, *data_size) < 0)
            return MHD_NO;
        *data_size = 0;
        return MHD_YES;
    }
    if (!r->dispatched) /* not again when a suspended request resumes */
        slot_mark(s, conn, true);
    r->dispatched = true;
    return dispatch(s, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_req *r = *con_cls;

    (void)toe;
    slot_mark(cls, conn, false);
    if (!r)
        return;
    access_line(cls, conn, r->method, r->route, r->start_ms);
    free(r->body);
    free(r->state);
    free(r);
    *con_cls = NULL;
}

void http_resume(struct http_req *r) { MHD_resume_connection(r->conn); }

struct http_server *http_start(struct front *f, int listen_fd, const struct http_route *routes,
                               size_t nroutes, const struct http_opts *o, struct jc_err *err)
{
    struct http_server *s = calloc(1, sizeof *s);

    if (!s) {
        jc_fail(err, ENOMEM, "http server");
        return NULL;
    }
    *s = (struct http_server){.front = f, .routes = routes, .nroutes = nroutes,
                              .max_body = o->max_body, .access_log = o->access_log,
                              .request_timeout_s = o->request_timeout_s, .opts = *o};
    pthread_mutex_init(&s->token_lock, NULL);
    snprintf(s->token, sizeof s->token, "%s", o->token);
    if (guard_start(s, err) < 0) {
        free(s);
        return NULL;
    }
    s->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, /* first, or some messages bypass it */
        MHD_OPTION_LISTEN_SOCKET, listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, o->threads,
        /* max_connections itself is enforced in enforce_shares(). */
        MHD_OPTION_CONNECTION_LIMIT, o->max_conns + HTTP_EVICT_HEADROOM,
        /* Idle connections are closed after this; trickling ones by the reaper. */
        MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s,
        /* Request line + headers must fit in this per-connection pool. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_END);
    if (!s->mhd) {
        guard_stop(s);
        free(s);
        jc_fail(err, errno, "cannot start the HTTP server");
        return NULL;
    }
    return s;
}

const char *http_query(struct http_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_header(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* A connection the kernel accepted but libmicrohttpd never will: answer
 * 503 instead of the reset that closing the listener would send it.  The
 * request is read (briefly) after the answer, so that close() does not
 * turn unread bytes into a reset either. */
static void refuse_backlogged(int fd)
{
    static const char answer[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Retry-After: 1\r\nConnection: close\r\nContent-Length: 39\r\n\r\n"
        "{\"error\":\"The daemon is shutting down\"}";
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char sink[4096];

    if (send(fd, answer, sizeof answer - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ||
        shutdown(fd, SHUT_WR) < 0)
        log_warn("answering a connection left at shutdown");
    while (poll(&p, 1, 100) > 0 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
        ;
    close(fd);
}

static void drain_backlog(int listen_fd)
{
    int fd;

    if (fcntl(listen_fd, F_SETFL, O_NONBLOCK) < 0)
        return;
    while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
        refuse_backlogged(fd);
}

void http_quiesce(struct http_server *s, int timeout_ms)
{
    const union MHD_DaemonInfo *info;
    MHD_socket fd;

    if (!s)
        return;
    fd = MHD_quiesce_daemon(s->mhd);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || info->num_connections == 0)
            break;
        usleep(10000);
    }
    if (fd != MHD_INVALID_SOCKET) {
        drain_backlog(fd); /* then no connection is ever reset by us */
        close(fd);
    }
}

void http_stop(struct http_server *s)
{
    if (!s)
        return;
    guard_stop(s);
    MHD_stop_daemon(s->mhd); /* closes every connection: slot_close() for each */
    explicit_bzero(s->token, sizeof s->token);
    pthread_mutex_destroy(&s->token_lock);
    free(s);
}
