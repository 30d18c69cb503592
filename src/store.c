/* store.c — task records in SQLite (see store.h).
 * Runs in: the front (any thread; each connection under its own mutex), and
 * its own checkpoint thread. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "record.h"
#include "util.h"

/* Bumped when struct jc_spec's layout changes: older queued specs are then
 * not read back (their tasks become lost, not misread). */
#define SPEC_VERSION ((int)(sizeof(struct jc_spec) * 100 + 1))

struct conn {
    pthread_mutex_t lock;
    sqlite3 *db;
};

/* The writer's statements on the submit path, prepared once. */
enum { Q_ADD, Q_UPDATE, Q_DISPATCHED, Q_COUNT };
static const char *const cached_sql[Q_COUNT] = {
    [Q_ADD] = "INSERT INTO tasks(seq,id,state,finished_ms,record,idem_key,idem_hash,spec,spec_version,"
              "stdin,files) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
    [Q_UPDATE] = "UPDATE tasks SET state=?,finished_ms=?,record=?,stdin=NULL,files=NULL WHERE id=?",
    [Q_DISPATCHED] = "UPDATE tasks SET spec=NULL WHERE id=?",
};

/* WAL frames (pages) after which the checkpointer copies the log into the
 * database: SQLite's own automatic checkpoint's default. */
#define CKPT_FRAMES 1000
#define CKPT_MAX_FRAMES (8 * CKPT_FRAMES)
/* Keep the WAL from growing without bound after a checkpoint (on the
 * writer, which restarts the log, and on the checkpointer). */
#define WAL_LIMIT "PRAGMA journal_size_limit=4194304"

struct store {
    struct conn w, r;
    /* The checkpointer: its own connection and thread, woken by the
     * writer's commits (on_commit); ck.lock guards the flags. */
    struct conn ck;
    pthread_t ck_thread;
    pthread_cond_t ck_cond, ck_idle;
    bool ck_due, ck_stop, ck_started;
    bool ck_running, ck_held; /* a pass in progress; the writer's RESTART holds the next */
    uint64_t ck_done;
    sqlite3_stmt *q[Q_COUNT]; /* on w, under w.lock */
    sqlite3_stmt *get;        /* on r, under r.lock: a GET of a finished task */
    int dirfd; /* the database's directory (O_PATH), to ask the kernel why */
    pthread_mutex_t health_lock;
    bool failing;
    char failure[JC_ERR_MSG_MAX];
};

/* The layout of the tables below, in the database's user_version: a
 * database of a newer layout is refused rather than misread (a downgrade
 * below it needs the backup taken before the upgrade, docs/operations.md);
 * an older one (0: before the number existed) is brought up to it. */
#define SCHEMA_VERSION 1
#define STR_(x) #x
#define STR(x) STR_(x)

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS tasks ("
    " seq INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " state INTEGER NOT NULL,"
    " finished_ms INTEGER NOT NULL DEFAULT 0,"
    " record TEXT NOT NULL,"
    " idem_key TEXT UNIQUE,"
    " idem_hash TEXT,"
    " spec BLOB,"
    " spec_version INTEGER,"
    " stdin BLOB,"
    " files BLOB);"
    "CREATE INDEX IF NOT EXISTS tasks_state ON tasks(state, seq);"
    "CREATE TABLE IF NOT EXISTS probe (k INTEGER PRIMARY KEY, v INTEGER);";

/* ---- errors and health ---------------------------------------------------- */

static void set_health(struct store *s, bool failing, const char *msg)
{
    pthread_mutex_lock(&s->health_lock);
    if (failing && !s->failing)
        log_warnx("state directory: %s", msg);
    else if (!failing && s->failing)
        log_info("state directory: writes succeed again");
    s->failing = failing;
    if (failing)
        snprintf(s->failure, sizeof s->failure, "%s", msg);
    pthread_mutex_unlock(&s->health_lock);
}

bool store_health(struct store *s, char *msg, size_t len)
{
    pthread_mutex_lock(&s->health_lock);
    bool failing = s->failing;
    snprintf(msg, len, "%s", failing ? s->failure : "");
    pthread_mutex_unlock(&s->health_lock);
    return failing;
}

/* A SQLite failure as a jc_err: full disk 507, read-only or I/O 503. */
static int db_fail(struct conn *c, int rc, const char *what, struct jc_err *err)
{
    int prim = rc & 0xff;
    const char *m = c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);

    if (prim == SQLITE_FULL)
        return jc_client(err, 507, "Cannot store the task record (%s): the state directory is full", what);
    if (prim == SQLITE_READONLY || prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN ||
        prim == SQLITE_BUSY || prim == SQLITE_LOCKED || prim == SQLITE_PROTOCOL)
        return jc_client(err, 503, "Cannot store the task record (%s): %s", what, m);
    return jc_fail(err, 0, "record store: %s: %s", what, m);
}

/* Why the directory refuses writes, in the kernel's words: SQLite says
 * only "disk I/O error" (its own errno is gone by then), which does not tell
 * a filesystem the kernel made read-only from a failing disk.  An unnamed
 * file is created and dropped; 0 when that works (or cannot be tried). */
static int dir_write_errno(struct store *s)
{
    int fd = openat(s->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);

    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == EOPNOTSUPP || errno == EISDIR ? 0 : errno;
}

static void add_os_cause(struct store *s, struct jc_err *err)
{
    int e = dir_write_errno(s);
    size_t n = strlen(err->msg);

    if (e)
        snprintf(err->msg + n, sizeof err->msg - n, " (%s)", strerror(e));
}

/* After a write: remember whether the directory takes writes. */
static int write_done(struct store *s, int rc, const char *what, struct jc_err *err)
{
    if (rc == SQLITE_DONE || rc == SQLITE_OK) {
        set_health(s, false, "");
        return 0;
    }
    db_fail(&s->w, rc, what, err);
    if ((rc & 0xff) == SQLITE_IOERR)
        add_os_cause(s, err);
    if (err->status == 507 || err->status == 503)
        set_health(s, true, err->msg);
    return -1;
}

/* ---- opening --------------------------------------------------------- */

static int conn_open(struct conn *c, const char *path, int flags, struct jc_err *err)
{
    int rc;

    pthread_mutex_init(&c->lock, NULL);
    rc = sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return db_fail(c, rc, "opening the database", err);
    sqlite3_extended_result_codes(c->db, 1);
    /* Waiting a little for the other connection's lock beats failing. */
    sqlite3_busy_timeout(c->db, 5000);
    return 0;
}

static int exec(struct conn *c, const char *sql, struct jc_err *err)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : db_fail(c, rc, sql, err);
}

static int schema_version(struct conn *c, struct jc_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL);
    int v = -1;

    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (v < 0)
        db_fail(c, rc, "reading the schema version", err);
    return v;
}

/* The tables exist (schema above): check and record their version. */
static int check_schema(struct conn *c, struct jc_err *err)
{
    int v = schema_version(c, err);

    if (v < 0)
        return -1;
    if (v > SCHEMA_VERSION)
        return jc_fail(err, 0, "the database has schema version %d, written by a newer jobcelld (this one "
                       "knows up to %d): run that version, or restore the backup taken before the upgrade",
                       v, SCHEMA_VERSION);
    if (v == SCHEMA_VERSION)
        return 0;
    return exec(c, "PRAGMA user_version=" STR(SCHEMA_VERSION), err);
}

static int setup(struct store *s, const char *path, enum store_sync sync, struct jc_err *err)
{
    if (conn_open(&s->w, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err) < 0 ||
        exec(&s->w, "PRAGMA journal_mode=WAL", err) < 0 ||
        exec(&s->w, sync == STORE_SYNC_FULL ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err) < 0 ||
        exec(&s->w, WAL_LIMIT, err) < 0 ||
        exec(&s->w, schema, err) < 0 || check_schema(&s->w, err) < 0)
        return -1;
    for (int i = 0; i < Q_COUNT; i++) {
        int rc = sqlite3_prepare_v3(s->w.db, cached_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL);
        if (rc != SQLITE_OK)
            return db_fail(&s->w, rc, "preparing a statement", err);
    }
    if (conn_open(&s->r, path, SQLITE_OPEN_READONLY, err) < 0)
        return -1;
    int rc = sqlite3_prepare_v3(s->r.db, "SELECT record, state FROM tasks WHERE id=?", -1, SQLITE_PREPARE_PERSISTENT,
                                &s->get, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(&s->r, rc, "preparing a statement", err);
}

/* ---- the checkpointer ------------------------------------------------- */

/* The writer waits until the checkpointer is between passes (a checkpoint
 * in progress makes another one SQLITE_BUSY at once: SQLite has no busy
 * wait for it), holds it there, and checkpoints everything; the next
 * commit then starts the log over. */
static void restart_log(struct store *s, sqlite3 *db)
{
    pthread_mutex_lock(&s->ck.lock);
    while (s->ck_running)
        pthread_cond_wait(&s->ck_idle, &s->ck.lock);
    s->ck_held = true;
    pthread_mutex_unlock(&s->ck.lock);
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) /* (the commit itself stands) */
        log_warnx("record store: checkpoint: %s", sqlite3_errmsg(db));
    pthread_mutex_lock(&s->ck.lock);
    s->ck_held = false;
    pthread_cond_signal(&s->ck_cond);
    pthread_mutex_unlock(&s->ck.lock);
}

/* The writer's commit hook (under w.lock): SQLite's automatic checkpoint
 * would copy the log and fsync the database in the committing thread, i.e.
 * in a POST holding the task table's lock, which every GET of a live
 * record waits for; this only wakes the checkpointer.  Only when writes
 * have outrun it (CKPT_MAX_FRAMES in the log) does the writer wait for a
 * RESTART checkpoint itself: the log's bound first, then. */
static int on_commit(void *ctx, sqlite3 *db, const char *name, int frames)
{
    struct store *s = ctx;

    (void)name;
    if (frames >= CKPT_MAX_FRAMES) {
        restart_log(s, db);
        return SQLITE_OK;
    }
    if (frames < CKPT_FRAMES)
        return SQLITE_OK;
    pthread_mutex_lock(&s->ck.lock);
    s->ck_due = true;
    pthread_cond_signal(&s->ck_cond);
    pthread_mutex_unlock(&s->ck.lock);
    return SQLITE_OK;
}

/* PASSIVE: as much of the log as no reader still needs, beside the writer
 * (WAL lets both run at once); what is left goes at the next one, and the
 * writer starts the log over once one has copied all of it. */
static void checkpoint(struct store *s)
{
    int rc = sqlite3_wal_checkpoint_v2(s->ck.db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        log_warnx("record store: checkpoint: %s", sqlite3_errmsg(s->ck.db));
        return;
    }
    pthread_mutex_lock(&s->ck.lock);
    s->ck_done++;
    pthread_mutex_unlock(&s->ck.lock);
}

static void *checkpointer(void *arg)
{
    struct store *s = arg;

    jc_name_thread("jc-checkpoint");
    pthread_mutex_lock(&s->ck.lock);
    for (;;) {
        while ((!s->ck_due || s->ck_held) && !s->ck_stop)
            pthread_cond_wait(&s->ck_cond, &s->ck.lock);
        if (s->ck_stop)
            break;
        s->ck_due = false;
        s->ck_running = true;
        pthread_mutex_unlock(&s->ck.lock);
        checkpoint(s);
        pthread_mutex_lock(&s->ck.lock);
        s->ck_running = false;
        pthread_cond_broadcast(&s->ck_idle);
    }
    pthread_mutex_unlock(&s->ck.lock);
    return NULL;
}

static int checkpointer_start(struct store *s, const char *path, struct jc_err *err)
{
    /* journal_mode: until it has read the database, a connection does not
     * know it is in WAL mode, and its checkpoints do nothing. */
    if (conn_open(&s->ck, path, SQLITE_OPEN_READWRITE, err) < 0 ||
        exec(&s->ck, "PRAGMA journal_mode=WAL", err) < 0 || exec(&s->ck, WAL_LIMIT, err) < 0)
        return -1;
    pthread_cond_init(&s->ck_cond, NULL);
    pthread_cond_init(&s->ck_idle, NULL);
    if (pthread_create(&s->ck_thread, NULL, checkpointer, s) != 0)
        return jc_fail(err, 0, "record store: cannot start the checkpoint thread");
    s->ck_started = true;
    sqlite3_wal_hook(s->w.db, on_commit, s); /* and no automatic checkpoint */
    return 0;
}

static void checkpointer_stop(struct store *s)
{
    if (!s->ck_started)
        return;
    pthread_mutex_lock(&s->ck.lock);
    s->ck_stop = true;
    pthread_cond_signal(&s->ck_cond);
    pthread_mutex_unlock(&s->ck.lock);
    pthread_join(s->ck_thread, NULL);
    s->ck_started = false;
}

uint64_t store_checkpoints(struct store *s)
{
    pthread_mutex_lock(&s->ck.lock);
    uint64_t n = s->ck_done;
    pthread_mutex_unlock(&s->ck.lock);
    return n;
}

static int open_dir_of(const char *path, struct jc_err *err)
{
    _cleanup_free_ char *copy = strdup(path);
    int fd;

    if (!copy)
        return jc_fail(err, ENOMEM, "record store");
    if ((fd = open(dirname(copy), O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        return jc_fail(err, errno, "opening the directory of %s", path);
    return fd;
}

struct store *store_open(const char *path, enum store_sync sync, struct jc_err *err)
{
    struct store *s = calloc(1, sizeof *s);

    if (!s) {
        jc_fail(err, ENOMEM, "record store");
        return NULL;
    }
    pthread_mutex_init(&s->health_lock, NULL);
    if ((s->dirfd = open_dir_of(path, err)) < 0 || setup(s, path, sync, err) < 0 ||
        checkpointer_start(s, path, err) < 0) {
        jc_err_prefix(err, "record store %s: ", path);
        store_close(s);
        return NULL;
    }
    return s;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    checkpointer_stop(s);
    sqlite3_close(s->ck.db);
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_finalize(s->get);
    sqlite3_close(s->r.db);
    sqlite3_close(s->w.db);
    if (s->dirfd >= 0)
        close(s->dirfd);
    free(s);
}

/* ---- statements ---------------------------------------------------------- */

static void finalizep(sqlite3_stmt **st) { sqlite3_finalize(*st); }
#define _cleanup_stmt_ __attribute__((cleanup(finalizep)))

/* A cached statement, reset for new bindings (under w.lock). */
static sqlite3_stmt *cached(struct store *s, int which)
{
    sqlite3_reset(s->q[which]);
    sqlite3_clear_bindings(s->q[which]);
    return s->q[which];
}

static void resetp(sqlite3_stmt **st) { sqlite3_reset(*st); }
#define _cleanup_reset_ __attribute__((cleanup(resetp)))

static int prepare(struct conn *c, const char *sql, sqlite3_stmt **st, struct jc_err *err)
{
    int rc = sqlite3_prepare_v2(c->db, sql, -1, st, NULL);

    return rc == SQLITE_OK ? 0 : db_fail(c, rc, "preparing a statement", err);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Bytes, or NULL when there are none. */
static void bind_bytes(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    if (p && n)
        sqlite3_bind_blob64(st, i, p, n, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int add_locked(struct store *s, const struct store_row *row, const struct jc_spec *spec,
                      const struct jc_input *in, struct jc_err *err)
{
    _cleanup_reset_ sqlite3_stmt *st = cached(s, Q_ADD);
    int rc;

    sqlite3_bind_int64(st, 1, (sqlite3_int64)row->seq);
    bind_text(st, 2, row->id);
    sqlite3_bind_int(st, 3, (int)row->state);
    sqlite3_bind_int64(st, 4, row->finished_ms);
    bind_text(st, 5, row->json);
    bind_text(st, 6, row->idem_key);
    bind_text(st, 7, row->idem_hash);
    if (spec)
        sqlite3_bind_blob(st, 8, spec, (int)spec_size(spec), SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    sqlite3_bind_int(st, 9, SPEC_VERSION);
    if (spec && in && spec->has_stdin)
        bind_bytes(st, 10, in->stdin_data, spec->stdin_len);
    if (spec && in)
        bind_bytes(st, 11, in->files_data, (size_t)jc_files_bytes(spec));
    rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT_UNIQUE && row->idem_key)
        return jc_client(err, 409, "Idempotency-Key '%.64s' was used already", row->idem_key);
    return write_done(s, rc, "adding a task", err);
}

int store_add(struct store *s, const struct store_row *row, const struct jc_spec *spec,
              const struct jc_input *in, struct jc_err *err)
{
    pthread_mutex_lock(&s->w.lock);
    int rc = add_locked(s, row, spec, in, err);
    pthread_mutex_unlock(&s->w.lock);
    return rc;
}

static int update_locked(struct store *s, const struct store_row *row, struct jc_err *err)
{
    _cleanup_reset_ sqlite3_stmt *st = cached(s, Q_UPDATE);

    sqlite3_bind_int(st, 1, (int)row->state);
    sqlite3_bind_int64(st, 2, row->finished_ms);
    bind_text(st, 3, row->json);
    bind_text(st, 4, row->id);
    return write_done(s, sqlite3_step(st), "updating a task", err);
}

int store_update(struct store *s, const struct store_row *row, struct jc_err *err)
{
    pthread_mutex_lock(&s->w.lock);
    int rc = update_locked(s, row, err);
    pthread_mutex_unlock(&s->w.lock);
    return rc;
}

static int dispatched_locked(struct store *s, const char *id, struct jc_err *err)
{
    _cleanup_reset_ sqlite3_stmt *st = cached(s, Q_DISPATCHED);

    bind_text(st, 1, id);
    return write_done(s, sqlite3_step(st), "starting a task", err);
}

int store_dispatched(struct store *s, const char *id, struct jc_err *err)
{
    pthread_mutex_lock(&s->w.lock);
    int rc = dispatched_locked(s, id, err);
    pthread_mutex_unlock(&s->w.lock);
    return rc;
}

static int requeue_locked(struct store *s, const char *id, const struct jc_spec *spec,
                          struct jc_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;

    if (prepare(&s->w, "UPDATE tasks SET spec=?, spec_version=? WHERE id=?", &st, err) < 0)
        return -1;
    sqlite3_bind_blob(st, 1, spec, (int)spec_size(spec), SQLITE_STATIC);
    sqlite3_bind_int(st, 2, SPEC_VERSION);
    bind_text(st, 3, id);
    return write_done(s, sqlite3_step(st), "requeueing a task", err);
}

int store_requeue(struct store *s, const char *id, const struct jc_spec *spec, struct jc_err *err)
{
    pthread_mutex_lock(&s->w.lock);
    int rc = requeue_locked(s, id, spec, err);
    pthread_mutex_unlock(&s->w.lock);
    return rc;
}

int store_probe(struct store *s, struct jc_err *err)
{
    pthread_mutex_lock(&s->w.lock);
    int rc = sqlite3_exec(s->w.db, "INSERT OR REPLACE INTO probe(k,v) VALUES(1,random())", NULL, NULL, NULL);
    rc = write_done(s, rc, "probing the state directory", err);
    pthread_mutex_unlock(&s->w.lock);
    return rc;
}

/* ---- reads ------------------------------------------------------------- */

/* A copy of column i, which must hold exactly n bytes (none when n is 0). */
static int column_bytes(sqlite3_stmt *st, int i, size_t n, unsigned char **out)
{
    const void *p = sqlite3_column_blob(st, i);
    size_t got = (size_t)sqlite3_column_bytes(st, i);

    *out = NULL;
    if (n == 0)
        return got == 0 ? 0 : -1;
    if (!p || got != n || !(*out = malloc(n)))
        return -1;
    memcpy(*out, p, n);
    return 0;
}

static int input_locked(struct store *s, const char *id, const struct jc_spec *spec,
                        struct jc_input *in, struct jc_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    int rc;

    if (prepare(&s->w, "SELECT stdin, files FROM tasks WHERE id=?", &st, err) < 0)
        return -1;
    bind_text(st, 1, id);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW)
        return rc == SQLITE_DONE ? jc_fail(err, 0, "task %s: not in the store", id)
                                 : db_fail(&s->w, rc, "reading a task's input", err);
    if (column_bytes(st, 0, spec->has_stdin ? spec->stdin_len : 0, &in->stdin_data) < 0 ||
        column_bytes(st, 1, (size_t)jc_files_bytes(spec), &in->files_data) < 0) {
        jc_input_free(in);
        return jc_fail(err, 0, "task %s: its stored input does not match its spec", id);
    }
    return 0;
}

int store_input(struct store *s, const char *id, const struct jc_spec *spec, struct jc_input *in,
                struct jc_err *err)
{
    *in = (struct jc_input){0};
    pthread_mutex_lock(&s->w.lock);
    int rc = input_locked(s, id, spec, in, err);
    pthread_mutex_unlock(&s->w.lock);
    return rc;
}

/* The reset (at return) ends the read transaction: none is held between
 * GETs, so checkpoints are never kept from the end of the WAL. */
static char *get_locked(struct store *s, const char *id, enum jc_state *state, struct jc_err *err)
{
    _cleanup_reset_ sqlite3_stmt *st = s->get;
    int rc;

    bind_text(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && state)
        *state = (enum jc_state)sqlite3_column_int(st, 1);
    if (rc == SQLITE_ROW)
        return strdup((const char *)sqlite3_column_text(st, 0));
    if (rc == SQLITE_DONE)
        jc_client(err, 404, id[0] ? "No task with id '%.*s'" : "No task with that id%.*s",
                  id[0] ? JC_ID_LEN - 1 : 0, id);
    else
        db_fail(&s->r, rc, "reading a task", err);
    return NULL;
}

char *store_get(struct store *s, const char *id, enum jc_state *state, struct jc_err *err)
{
    pthread_mutex_lock(&s->r.lock);
    char *json = get_locked(s, id, state, err);
    pthread_mutex_unlock(&s->r.lock);
    return json;
}

static int find_key_locked(struct store *s, const char *key, char id[JC_ID_LEN], char hash[65],
                           struct jc_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    int rc;

    if (prepare(&s->w, "SELECT id, idem_hash FROM tasks WHERE idem_key=?", &st, err) < 0)
        return -1;
    bind_text(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return jc_client(err, 404, "No task with that Idempotency-Key");
    if (rc != SQLITE_ROW)
        return db_fail(&s->w, rc, "looking up an Idempotency-Key", err);
    snprintf(id, JC_ID_LEN, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(hash, 65, "%s", sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
    return 0;
}

/* On the writer: a key added a moment ago by another thread is seen. */
int store_find_key(struct store *s, const char *key, char id[JC_ID_LEN], char hash[65],
                   struct jc_err *err)
{
    pthread_mutex_lock(&s->w.lock);
    int rc = find_key_locked(s, key, id, hash, err);
    pthread_mutex_unlock(&s->w.lock);
    return rc;
}

/* Appends rows to a JSON array text being built in *buf. */
static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);

    if (*len + n + 2 > *cap) {
        size_t nc = (*cap + n + 2) * 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
    return 0;
}

static int list_bind(sqlite3_stmt *st, bool has_state, enum jc_state state, uint64_t before,
                     uint32_t limit)
{
    sqlite3_bind_int64(st, 1, before > INT64_MAX ? INT64_MAX : (sqlite3_int64)before);
    if (has_state)
        sqlite3_bind_int(st, 2, (int)state);
    /* One more than asked: whether a next page exists. */
    return sqlite3_bind_int64(st, has_state ? 3 : 2, (sqlite3_int64)limit + 1);
}

static char *list_locked(struct store *s, bool has_state, enum jc_state state, uint64_t before,
                         uint32_t limit, bool *more, uint64_t *last_seq, struct jc_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    uint32_t n = 0;
    int rc;

    if (prepare(&s->r, has_state ? "SELECT seq, record FROM tasks WHERE seq<? AND state=? ORDER BY seq DESC LIMIT ?"
                                 : "SELECT seq, record FROM tasks WHERE seq<? ORDER BY seq DESC LIMIT ?",
                &st, err) < 0)
        return NULL;
    list_bind(st, has_state, state, before, limit);
    *more = false;
    if (append(&buf, &len, &cap, "[") < 0)
        goto oom;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            *more = true;
            break;
        }
        *last_seq = (uint64_t)sqlite3_column_int64(st, 0);
        if ((n++ && append(&buf, &len, &cap, ",") < 0) ||
            append(&buf, &len, &cap, (const char *)sqlite3_column_text(st, 1)) < 0)
            goto oom;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        free(buf);
        db_fail(&s->r, rc, "listing tasks", err);
        return NULL;
    }
    if (append(&buf, &len, &cap, "]") < 0)
        goto oom;
    return buf;
oom:
    free(buf);
    jc_fail(err, ENOMEM, "listing tasks");
    return NULL;
}

char *store_list(struct store *s, bool has_state, enum jc_state state, uint64_t before,
                 uint32_t limit, bool *more, uint64_t *last_seq, struct jc_err *err)
{
    pthread_mutex_lock(&s->r.lock);
    char *json = list_locked(s, has_state, state, before, limit, more, last_seq, err);
    pthread_mutex_unlock(&s->r.lock);
    return json;
}

static uint64_t scalar(struct store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    uint64_t v = 0;

    pthread_mutex_lock(&s->w.lock);
    if (sqlite3_prepare_v2(s->w.db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->w.lock);
    return v;
}

uint64_t store_max_seq(struct store *s) { return scalar(s, "SELECT IFNULL(MAX(seq),0) FROM tasks"); }
uint64_t store_count(struct store *s) { return scalar(s, "SELECT COUNT(*) FROM tasks"); }

/* ---- start-up and pruning ------------------------------------------------ */

static const struct jc_spec *spec_of(sqlite3_stmt *st, struct jc_spec *buf)
{
    const void *blob = sqlite3_column_blob(st, 3);
    int n = sqlite3_column_bytes(st, 3);

    if (!blob || sqlite3_column_int(st, 4) != SPEC_VERSION || n < (int)offsetof(struct jc_spec, strings) ||
        n > (int)sizeof *buf)
        return NULL;
    memcpy(buf, blob, (size_t)n);
    if (buf->strings_len != (uint32_t)n - offsetof(struct jc_spec, strings))
        return NULL;
    return buf;
}

int store_each_live(struct store *s, store_live_fn fn, void *ctx, struct jc_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    struct jc_spec *buf = malloc(sizeof *buf);
    int rc = -1;

    if (!buf)
        return jc_fail(err, ENOMEM, "reading queued tasks");
    pthread_mutex_lock(&s->w.lock);
    if (prepare(&s->w, "SELECT seq, id, state, spec, spec_version, record FROM tasks "
                       "WHERE state IN (?,?) ORDER BY seq", &st, err) == 0) {
        sqlite3_bind_int(st, 1, ST_QUEUED);
        sqlite3_bind_int(st, 2, ST_RUNNING);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            fn(ctx, (uint64_t)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (enum jc_state)sqlite3_column_int(st, 2), (const char *)sqlite3_column_text(st, 5),
               spec_of(st, buf));
        rc = rc == SQLITE_DONE ? 0 : db_fail(&s->w, rc, "reading queued tasks", err);
    }
    pthread_mutex_unlock(&s->w.lock);
    free(buf);
    return rc;
}

/* The ids of the finished rows to delete (a malloc'd array of *n). */
static char (*prune_select(struct store *s, int64_t cutoff_ms, uint64_t max_rows, int *n,
                           struct jc_err *err))[JC_ID_LEN]
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    char(*ids)[JC_ID_LEN] = NULL;
    int rc, cap = 0;

    *n = 0;
    if (prepare(&s->w, "SELECT id FROM tasks WHERE state>=? AND (finished_ms<? OR seq<=("
                       "SELECT seq FROM tasks ORDER BY seq DESC LIMIT 1 OFFSET ?))", &st, err) < 0)
        return NULL;
    sqlite3_bind_int(st, 1, ST_SUCCEEDED);
    sqlite3_bind_int64(st, 2, cutoff_ms);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max_rows);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            void *grown = realloc(ids, (size_t)cap * sizeof *ids);
            if (!grown)
                break;
            ids = grown;
        }
        snprintf(ids[(*n)++], JC_ID_LEN, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        db_fail(&s->w, rc, "pruning", err);
    return ids;
}

/* Delete exactly the selected rows in one transaction, then (the commit
 * done) their logs: a log is never removed for a row that stays. */
static int prune_locked(struct store *s, int64_t cutoff_ms, uint64_t max_rows, char (**ids)[JC_ID_LEN],
                        struct jc_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    int n = 0, rc = 0;

    *ids = prune_select(s, cutoff_ms, max_rows, &n, err);
    if (n == 0)
        return 0;
    if (prepare(&s->w, "DELETE FROM tasks WHERE id=?", &st, err) < 0 || exec(&s->w, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    for (int i = 0; i < n && rc == 0; i++) {
        sqlite3_reset(st);
        bind_text(st, 1, (*ids)[i]);
        rc = write_done(s, sqlite3_step(st), "pruning", err);
    }
    if (exec(&s->w, rc < 0 ? "ROLLBACK" : "COMMIT", err) < 0 || rc < 0)
        return -1;
    return n;
}

int store_prune(struct store *s, int64_t cutoff_ms, uint64_t max_rows,
                void (*forget)(void *ctx, const char *id), void *ctx, struct jc_err *err)
{
    char(*ids)[JC_ID_LEN] = NULL;

    pthread_mutex_lock(&s->w.lock);
    int n = prune_locked(s, cutoff_ms, max_rows, &ids, err);
    pthread_mutex_unlock(&s->w.lock);
    for (int i = 0; i < n; i++)
        forget(ctx, ids[i]);
    free(ids);
    return n;
}
