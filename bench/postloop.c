/* postloop.c — jobcell's submit loop in C: POST /api/tasks over keep-alive
 * connections, one per lane, the next POST as soon as the 202 is in.
 *
 *   jobcell-postloop -P PORT [-n N] [-j LANES] [-t MAX_SECONDS] [-w WARMUP]
 *                    [-i INTERVAL_MS] [-o | -k] [-I IDS_FILE] -b BODY
 *   jobcell-postloop -P PORT -D IDS_FILE [-j LANES] [-t MAX_SECONDS]
 *
 * The same measurement as `jcclient.py spawn` (pipelined), with a client
 * that costs next to nothing: on a 2-CPU host the Python client's own CPU
 * (~0.5 ms per request) is taken from the daemon it measures.  WARMUP POSTs
 * first, untimed, until all of them ended; then N POSTs over LANES threads
 * (each a thread with its own connection), all bounded by MAX_SECONDS.
 * -o: other tasks run too (bench/flat.sh's sleepers): wait for its own
 * tasks' ends only, polling each one's record in turn.  -k: the tasks
 * keep running (sleepers): neither wait nor check, just submit.  -I: the
 * ids of the tasks accepted are appended to IDS_FILE, one per line.
 * -D: the other way: DELETE every task of IDS_FILE over LANES connections,
 * then wait until each one's record is terminal, and check each says
 * "cancelled"; prints
 *
 *   cancelled n=… refused=… not_cancelled=… delete_ms=… all_ended_ms=…
 *
 * (both times from the first DELETE; refused: not 202).
 * With -i, one lane, and each POST waits until INTERVAL_MS after the
 * previous one was sent: a rate below capacity, so that a prepared cell is
 * waiting for each task (the latency of a POST that finds one).  At the end
 * it waits until no task is queued or running, then checks that every task
 * it submitted succeeded.  Only 127.0.0.1 is contacted.  Prints one line:
 *
 *   n=… fail=… http_errors=… p50_ms=… p95_ms=… p99_ms=… max_ms=… rate=…
 *
 * (latency: POST sent → 202 read; rate: tasks/s from the first POST to
 * every task terminal).  Part of bench/, not of jobcelld; exits 1 on any
 * failure. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ID_MAX 64
#define RESP_MAX (1 << 20)

static int port;
static long total = 500, warmup = 20, lanes = 1;
static double max_s = 60, interval_ms;
static const char *body, *ids_file;
static int own_only, keep;
static const char *cancel_file;
static double *lat;
static char (*ids)[ID_MAX];
static atomic_long next_i, http_errors;
static double deadline;

struct conn {
    int fd;
    char buf[RESP_MAX];
    size_t have; /* bytes in buf, of this response and maybe the next */
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "postloop: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void conn_open(struct conn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->have = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        die("TCP_NODELAY");
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect 127.0.0.1");
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("send");
        p += w;
        n -= (size_t)w;
    }
}

/* More bytes into c->buf; exits if the server closed or the buffer is full. */
static void fill(struct conn *c)
{
    ssize_t r;

    if (c->have == sizeof c->buf) {
        fprintf(stderr, "postloop: a response over %d bytes\n", RESP_MAX);
        exit(1);
    }
    do
        r = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have - 1, 0);
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
        if (r == 0)
            errno = ECONNRESET;
        die("recv");
    }
    c->have += (size_t)r;
    c->buf[c->have] = '\0';
}

/* One request, its response read whole: the status; *out (NUL-terminated)
 * is the body, valid until the next request on c. */
static int request(struct conn *c, const char *method, const char *path, const char *data, char **out)
{
    char head[512];
    char *end;
    size_t dlen = data ? strlen(data) : 0;
    int hl = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n",
                      method, path, data ? "Content-Type: application/json\r\n" : "", dlen);

    send_all(c->fd, head, (size_t)hl);
    if (dlen)
        send_all(c->fd, data, dlen);
    while (!(end = strstr(c->buf, "\r\n\r\n")))
        fill(c);
    int status = atoi(c->buf + 9);
    char *cl = strcasestr(c->buf, "\r\ncontent-length:");
    if (!cl || cl > end || status < 100) {
        fprintf(stderr, "postloop: no status or Content-Length in: %.200s\n", c->buf);
        exit(1);
    }
    size_t blen = strtoul(cl + 17, NULL, 10), hlen = (size_t)(end + 4 - c->buf);
    if (hlen + blen >= sizeof c->buf) {
        fprintf(stderr, "postloop: a response over %d bytes\n", RESP_MAX);
        exit(1);
    }
    while (c->have < hlen + blen)
        fill(c);
    /* The body, moved to the front; what follows it (nothing: one request
     * at a time) would be lost, so there must be nothing. */
    if (c->have != hlen + blen) {
        fprintf(stderr, "postloop: bytes after a response\n");
        exit(1);
    }
    memmove(c->buf, c->buf + hlen, blen);
    c->buf[blen] = '\0';
    c->have = 0;
    *out = c->buf;
    return status;
}

/* The task id of a 202's body {"id": "…", …}. */
static int body_id(const char *b, char id[ID_MAX])
{
    const char *p = strstr(b, "\"id\"");

    if (!p || !(p = strchr(p + 4, '"')))
        return -1;
    size_t n = strcspn(++p, "\"");
    if (n == 0 || n >= ID_MAX)
        return -1;
    memcpy(id, p, n);
    id[n] = '\0';
    return 0;
}

static void sleep_until(double t)
{
    double d = t - now();

    if (d > 0) {
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
}

/* Job number i of a lane: a POST (its latency and id kept), or -D's DELETE. */
typedef void lane_job(struct conn *c, long i, double t0);

static void post_one(struct conn *c, long i, double t0)
{
    char *b;

    if (interval_ms > 0)
        sleep_until(t0 + (double)i * interval_ms / 1e3);
    double s = now();
    int st = request(c, "POST", "/api/tasks", body, &b);
    if (st != 202 || body_id(b, ids[i]) < 0) {
        atomic_fetch_add(&http_errors, 1);
        ids[i][0] = '\0';
        return;
    }
    lat[i] = now() - s;
}

static void delete_one(struct conn *c, long i, double t0)
{
    char path[ID_MAX + 16], *b;

    (void)t0;
    snprintf(path, sizeof path, "/api/tasks/%s", ids[i]);
    if (request(c, "DELETE", path, NULL, &b) != 202)
        atomic_fetch_add(&http_errors, 1);
}

struct lane_arg {
    lane_job *job;
    double t0;
};

/* A lane: a connection of its own, and one job after another until all
 * [0, total) are taken or the deadline has passed. */
static void *lane(void *arg)
{
    const struct lane_arg *a = arg;
    struct conn *c = malloc(sizeof *c);

    if (!c)
        die("malloc");
    conn_open(c);
    for (;;) {
        long i = atomic_fetch_add(&next_i, 1);
        if (i >= total || now() > deadline)
            break;
        a->job(c, i, a->t0);
    }
    close(c->fd);
    free(c);
    return NULL;
}

/* LANES lanes of job from t0 (now) until the deadline; back when all ended. */
static void run_lanes(lane_job *job, double t0)
{
    struct lane_arg a = {job, t0};
    pthread_t th[256];

    deadline = t0 + max_s;
    for (long i = 0; i < lanes; i++)
        if ((errno = pthread_create(&th[i], NULL, lane, &a)) != 0)
            die("pthread_create");
    for (long i = 0; i < lanes; i++)
        pthread_join(th[i], NULL);
}

/* The body's "tasks" list is empty (json-c may put spaces in "[ ]"). */
static int empty_list(const char *b)
{
    const char *p = strstr(b, "\"tasks\"");

    if (!p)
        return 0;
    p += strspn(p + 7, " :") + 7;
    if (*p++ != '[')
        return 0;
    return p[strspn(p, " ")] == ']';
}

/* Any task queued or running? (the first page of each list says) */
static int any_alive(struct conn *c)
{
    static const char *const paths[] = {"/api/tasks?limit=1&state=queued", "/api/tasks?limit=1&state=running"};
    char *b;

    for (size_t k = 0; k < 2; k++) {
        int st = request(c, "GET", paths[k], NULL, &b);
        if (st != 200) {
            fprintf(stderr, "postloop: GET %s: HTTP %d %.200s\n", paths[k], st, b);
            exit(1);
        }
        if (!empty_list(b))
            return 1;
    }
    return 0;
}

static double wait_all_ended(struct conn *c, double timeout)
{
    double end = now() + timeout;

    while (now() < end) {
        if (!any_alive(c))
            return now();
        sleep_until(now() + 0.0005);
    }
    fprintf(stderr, "postloop: tasks still alive after %.0f s\n", timeout);
    exit(1);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, long n, double p)
{
    if (n == 0)
        return 0;
    long k = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[k < n ? k : n - 1];
}

/* One task's state is terminal (see api.md: the states). */
static int terminal(const char *b)
{
    static const char *const states[] = {"succeeded", "failed", "cancelled", "lost"};
    char want[32];

    for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
        snprintf(want, sizeof want, "\"state\":\"%s\"", states[k]);
        if (strstr(b, want))
            return 1;
    }
    return 0;
}

/* -o: each task of list[0, n), in turn, until its record is terminal. */
static double wait_own_ended(struct conn *c, char (*list)[ID_MAX], long n, double timeout)
{
    char path[ID_MAX + 16], *b;
    double end = now() + timeout;

    for (long i = 0; i < n; i++) {
        if (!list[i][0])
            continue;
        snprintf(path, sizeof path, "/api/tasks/%s", list[i]);
        while (request(c, "GET", path, NULL, &b) != 200 || !terminal(b)) {
            if (now() > end) {
                fprintf(stderr, "postloop: task %s not ended after %.0f s\n", list[i], timeout);
                exit(1);
            }
            sleep_until(now() + 0.0005);
        }
    }
    return now();
}

static void warm_up(struct conn *c)
{
    char (*mine)[ID_MAX] = calloc((size_t)warmup + 1, sizeof *mine), *b;

    if (!mine)
        die("calloc");
    for (long i = 0; i < warmup; i++) {
        int st = request(c, "POST", "/api/tasks", body, &b);
        if (st != 202 || body_id(b, mine[i]) < 0) {
            fprintf(stderr, "postloop: warm-up POST: HTTP %d %.200s\n", st, b);
            exit(1);
        }
    }
    if (own_only)
        wait_own_ended(c, mine, warmup, 30);
    else
        wait_all_ended(c, 30);
    free(mine);
}

static void write_ids(void)
{
    FILE *f = fopen(ids_file, "a");

    if (!f)
        die(ids_file);
    for (long i = 0; i < total && i < next_i; i++)
        if (ids[i][0])
            fprintf(f, "%s\n", ids[i]);
    if (fclose(f) != 0)
        die(ids_file);
}

/* Every task submitted ended "succeeded"? The number that did not. */
static long verify(struct conn *c)
{
    char path[ID_MAX + 16], *b;
    long bad = 0;

    for (long i = 0; i < total && i < next_i; i++) {
        if (!ids[i][0])
            continue;
        snprintf(path, sizeof path, "/api/tasks/%s", ids[i]);
        int st = request(c, "GET", path, NULL, &b);
        if (st != 200 || !strstr(b, "\"state\":\"succeeded\""))
            bad++;
    }
    return bad;
}

static void usage(void)
{
    fprintf(stderr, "usage: jobcell-postloop -P PORT [-n N] [-j LANES] [-t MAX_SECONDS] [-w WARMUP] "
                    "[-i INTERVAL_MS] [-o | -k] [-I IDS_FILE] -b BODY\n"
                    "       jobcell-postloop -P PORT -D IDS_FILE [-j LANES] [-t MAX_SECONDS]\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    int o;

    while ((o = getopt(argc, argv, "P:n:j:t:w:i:okI:D:b:")) != -1) {
        switch (o) {
        case 'P': port = atoi(optarg); break;
        case 'n': total = atol(optarg); break;
        case 'j': lanes = atol(optarg); break;
        case 't': max_s = atof(optarg); break;
        case 'w': warmup = atol(optarg); break;
        case 'i': interval_ms = atof(optarg); break;
        case 'o': own_only = 1; break;
        case 'k': keep = 1; break;
        case 'I': ids_file = optarg; break;
        case 'D': cancel_file = optarg; break;
        case 'b': body = optarg; break;
        default: usage();
        }
    }
    if (port <= 0 || port > 65535 || total < 1 || lanes < 1 || lanes > 256 || max_s <= 0 || warmup < 0 ||
        interval_ms < 0 || (!body && !cancel_file) || optind != argc || (own_only && keep))
        usage();
    if (interval_ms > 0)
        lanes = 1;
}

/* The ids of a file, one per line, into ids[0, total). */
static void read_ids(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[ID_MAX + 2];
    long n = 0, cap = 1024;

    if (!f)
        die(path);
    ids = malloc((size_t)cap * sizeof *ids);
    while (ids && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || strlen(line) >= ID_MAX)
            continue;
        if (n == cap)
            ids = realloc(ids, (size_t)(cap *= 2) * sizeof *ids);
        if (ids)
            snprintf(ids[n++], ID_MAX, "%s", line);
    }
    if (!ids)
        die("malloc");
    fclose(f);
    total = n;
}

/* -D: every task of the file cancelled; 0 when each record says so. */
static int cancel_all(void)
{
    static struct conn ctl;
    char path[ID_MAX + 16], *b;
    long other = 0;

    read_ids(cancel_file);
    double t0 = now();
    run_lanes(delete_one, t0);
    double t1 = now();
    conn_open(&ctl);
    double t2 = wait_own_ended(&ctl, ids, total, max_s);
    for (long i = 0; i < total; i++) {
        snprintf(path, sizeof path, "/api/tasks/%s", ids[i]);
        if (request(&ctl, "GET", path, NULL, &b) != 200 || !strstr(b, "\"state\":\"cancelled\""))
            other++;
    }
    long refused = atomic_load(&http_errors);
    printf("cancelled n=%ld refused=%ld not_cancelled=%ld delete_ms=%.0f all_ended_ms=%.0f\n", total, refused, other,
           (t1 - t0) * 1e3, (t2 - t0) * 1e3);
    return refused || other ? 1 : 0;
}

int main(int argc, char **argv)
{
    static struct conn ctl;
    double t_start;

    parse_args(argc, argv);
    if (cancel_file)
        return cancel_all();
    lat = calloc((size_t)total, sizeof *lat);
    ids = calloc((size_t)total, sizeof *ids);
    if (!lat || !ids)
        die("calloc");
    conn_open(&ctl);
    if (!keep)
        warm_up(&ctl);
    /* The control connection sits idle while the lanes run: a fresh one
     * after (the server closes idle ones past its conn_timeout_s). */
    close(ctl.fd);
    t_start = now();
    run_lanes(post_one, t_start);
    if (ids_file)
        write_ids();
    conn_open(&ctl);
    double t_end = keep ? now() : own_only ? wait_own_ended(&ctl, ids, next_i < total ? next_i : total, 60) : wait_all_ended(&ctl, 60);
    long n = 0;
    for (long i = 0; i < total && i < next_i; i++)
        if (ids[i][0])
            lat[n++] = lat[i];
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    long bad = keep ? 0 : verify(&ctl);
    long errs = atomic_load(&http_errors);
    printf("n=%ld fail=%ld http_errors=%ld p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f rate=%.1f\n", n, bad, errs,
           pct(lat, n, 50) * 1e3, pct(lat, n, 95) * 1e3, pct(lat, n, 99) * 1e3, n ? lat[n - 1] * 1e3 : 0,
           t_end > t_start ? (double)n / (t_end - t_start) : 0);
    return bad || errs ? 1 : 0;
}
