/* test_store.c — unit tests for store.c, the SQLite record store, on a
 * temporary file: open, add, transitions, Idempotency-Key lookups, queued
 * specs across a reopen, paging, pruning (with the logs' callback), the
 * schema version (recorded, brought up from 0, a newer one refused), the
 * store's own checkpoints. */
#include "store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "record.h"
#include "testutil.h"

static struct jc_err err;

static void id_of(unsigned i, char out[JC_ID_LEN])
{
    snprintf(out, JC_ID_LEN, "00000000-0000-4000-8000-%012u", i);
}

static int add(struct store *s, unsigned i, enum jc_state st, int64_t fin, const char *key,
               const struct jc_spec *spec)
{
    char id[JC_ID_LEN], json[128];

    id_of(i, id);
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"n\":%u}", id, i);
    struct store_row row = {.seq = i, .id = id, .state = st, .finished_ms = fin, .json = json,
                            .idem_key = key, .idem_hash = key ? "h1" : NULL};
    return store_add(s, &row, spec, NULL, &err);
}

static void test_add_get_update(struct store *s)
{
    char id[JC_ID_LEN];

    CHECK(add(s, 1, ST_QUEUED, 0, NULL, NULL) == 0);
    id_of(1, id);
    char *json = store_get(s, id, NULL, &err);
    CHECK_STR_CONTAINS(json, "\"n\":1");
    free(json);
    struct store_row row = {.seq = 1, .id = id, .state = ST_SUCCEEDED, .finished_ms = 5, .json = "{\"done\":1}"};
    CHECK(store_update(s, &row, &err) == 0);
    json = store_get(s, id, NULL, &err);
    CHECK(json && strcmp(json, "{\"done\":1}") == 0);
    free(json);
    CHECK(store_get(s, "00000000-0000-4000-8000-999999999999", NULL, &err) == NULL && err.status == 404);
    CHECK(add(s, 1, ST_QUEUED, 0, NULL, NULL) < 0); /* the same seq/id twice */
}

static void test_idempotency(struct store *s)
{
    char id[JC_ID_LEN], hash[65];

    CHECK(add(s, 2, ST_QUEUED, 0, "key-a", NULL) == 0);
    CHECK(add(s, 3, ST_QUEUED, 0, "key-a", NULL) < 0 && err.status == 409);
    CHECK(store_find_key(s, "key-a", id, hash, &err) == 0);
    CHECK(strstr(id, "000000000002") != NULL && strcmp(hash, "h1") == 0);
    CHECK(store_find_key(s, "key-b", id, hash, &err) < 0 && err.status == 404);
}

struct live {
    unsigned n, with_spec;
    uint64_t seqs[8];
    char arg0[32];
};

static void on_live(void *ctx, uint64_t seq, const char *id, enum jc_state st, const char *json,
                    const struct jc_spec *spec)
{
    struct live *l = ctx;

    if (l->n < 8)
        l->seqs[l->n] = seq;
    l->n++;
    if (spec) {
        l->with_spec++;
        snprintf(l->arg0, sizeof l->arg0, "%s", spec->strings);
    }
}

static struct jc_spec *small_spec(void)
{
    struct jc_spec *sp = calloc(1, sizeof *sp);

    id_of(4, sp->id);
    sp->argc = 1;
    sp->is_command = true;
    memcpy(sp->strings, "/bin/true", 10);
    sp->strings_len = 10;
    return sp;
}

static void test_live_and_dispatch(struct store *s, const char *path)
{
    struct jc_spec *sp = small_spec();
    struct live l = {0};
    char id[JC_ID_LEN];

    CHECK(add(s, 4, ST_QUEUED, 0, NULL, sp) == 0);
    CHECK(add(s, 5, ST_RUNNING, 0, NULL, NULL) == 0);
    store_close(s);
    s = store_open(path, STORE_SYNC_NORMAL, &err); /* reopen: all still there */
    CHECK(s != NULL);
    CHECK(store_each_live(s, on_live, &l, &err) == 0);
    /* seq 2, 3(refused), 4, 5 → 2 queued without spec, 4 with, 5 running. */
    CHECK(l.n == 3 && l.seqs[0] == 2 && l.seqs[1] == 4 && l.seqs[2] == 5);
    CHECK(l.with_spec == 1 && strcmp(l.arg0, "/bin/true") == 0);
    id_of(4, id);
    CHECK(store_dispatched(s, id, &err) == 0);
    l = (struct live){0};
    CHECK(store_each_live(s, on_live, &l, &err) == 0 && l.with_spec == 0);
    CHECK(store_max_seq(s) == 5 && store_count(s) == 4);
    free(sp);
    store_close(s);
}

static void test_paging(struct store *s)
{
    bool more;
    uint64_t last = 0;

    for (unsigned i = 10; i < 20; i++)
        CHECK(add(s, i, i % 2 ? ST_FAILED : ST_SUCCEEDED, 1000 + i, NULL, NULL) == 0);
    char *a = store_list(s, false, ST_QUEUED, UINT64_MAX, 4, &more, &last, &err);
    CHECK(a && more && last == 16);
    CHECK_STR_CONTAINS(a, "\"n\":19},{");
    free(a);
    a = store_list(s, true, ST_FAILED, last, 10, &more, &last, &err);
    CHECK(a && !more && last == 11); /* 15 13 11 */
    CHECK_STR_CONTAINS(a, "[{\"id\":\"00000000-0000-4000-8000-000000000015\"");
    free(a);
}

static unsigned forgotten;
static void forget(void *ctx, const char *id) { forgotten++; }

static void test_prune(struct store *s)
{
    /* Row 1 finished at 5, rows 10..19 at 1010..1019: a cut-off at 1015
     * drops 1 and 10..14; the live rows 2, 4, 5 stay. */
    CHECK(store_prune(s, 1015, 1000, forget, NULL, &err) == 6 && forgotten == 6);
    CHECK(store_count(s) == 8);
    /* At most 3 rows: the finished ones older than the 3 newest (30, 19,
     * 18) go; live rows are never pruned. */
    CHECK(add(s, 30, ST_QUEUED, 0, NULL, NULL) == 0);
    CHECK(store_prune(s, 0, 3, forget, NULL, &err) == 3);
    CHECK(store_count(s) == 6);
    char *j = store_get(s, "00000000-0000-4000-8000-000000000030", NULL, &err);
    CHECK(j != NULL);
    free(j);
}

static int user_version(const char *path, int set)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char sql[64];
    int v = -1;

    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    if (set >= 0) {
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", set);
        sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* The records of a database of an older layout (0: from before the number)
 * are kept and it is brought up; a newer one is refused, untouched. */
static void test_schema_version(const char *path)
{
    struct store *fresh = store_open(path, STORE_SYNC_NORMAL, &err);
    CHECK(fresh != NULL && add(fresh, 1, ST_QUEUED, 0, NULL, NULL) == 0);
    store_close(fresh);
    CHECK(user_version(path, -1) == 1);
    CHECK(user_version(path, 0) == 0);
    struct store *s = store_open(path, STORE_SYNC_NORMAL, &err);
    CHECK(s != NULL);
    char id[JC_ID_LEN];
    id_of(1, id);
    char *json = s ? store_get(s, id, NULL, &err) : NULL;
    CHECK_STR_CONTAINS(json, "\"n\":1");
    free(json);
    store_close(s);
    CHECK(user_version(path, -1) == 1);
    CHECK(user_version(path, 7) == 7);
    CHECK(store_open(path, STORE_SYNC_NORMAL, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "schema version 7, written by a newer jobcelld");
    CHECK(user_version(path, -1) == 7);
    CHECK(user_version(path, 1) == 1);
}

static long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The writer does not checkpoint: the store's own thread copies the log
 * into the database once 1 000 pages are in it, so the rows reach the
 * database file, and the log stays bounded even when writes come with no
 * pause between them (the writer's own RESTART past 8 000 pages). */
static void test_checkpointer(const char *dir)
{
    char *path = xasprintf("%s/ckpt.db", dir), *wal = xasprintf("%s/ckpt.db-wal", dir);
    struct store *s = store_open(path, STORE_SYNC_NORMAL, &err);
    long db0 = file_size(path), walmax = 0;

    CHECK(s != NULL && store_checkpoints(s) == 0);
    for (unsigned i = 1; s && i <= 20000; i++) {
        CHECK(add(s, i, ST_SUCCEEDED, 1, NULL, NULL) == 0);
        long w = file_size(wal);
        walmax = w > walmax ? w : walmax;
    }
    for (int i = 0; s && i < 500 && store_checkpoints(s) == 0; i++)
        usleep(10000);
    CHECK(s && store_checkpoints(s) > 0);
    CHECK(file_size(path) > db0); /* the rows are in the database, not only the log */
    /* 8 000 pages and a commit at most (the writer's RESTART past them);
     * unbounded, 20 000 rows of ~4.5 pages each would be ~370 MB. */
    CHECK(walmax > 0 && walmax < 40L << 20);
    store_close(s);
    free(path);
    free(wal);
}

int main(void)
{
    char *dir = make_tmpdir("store");
    char *path = xasprintf("%s/records.db", dir);
    struct store *s = store_open(path, STORE_SYNC_FULL, &err);

    CHECK(s != NULL);
    if (!s)
        return check_summary();
    test_add_get_update(s);
    test_idempotency(s);
    test_live_and_dispatch(s, path);
    s = store_open(path, STORE_SYNC_NORMAL, &err);
    CHECK(s != NULL);
    test_paging(s);
    test_prune(s);
    store_close(s);
    char *path2 = xasprintf("%s/versioned.db", dir);
    test_schema_version(path2);
    free(path2);
    test_checkpointer(dir);
    CHECK(store_open("/nonexistent-dir/x.db", STORE_SYNC_NORMAL, &err) == NULL && err.msg[0]);
    rm_tree(dir);
    free(path);
    return check_summary();
}
