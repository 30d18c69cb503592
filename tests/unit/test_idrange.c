/* test_idrange.c — the task id range against users, groups and
 * subordinate ranges (idrange.c): files of its own, every kind of line.
 * Runs in: a unit-test process (no root). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "idrange.h"
#include "testutil.h"

static char *dir;
static char paths[4][256];
static struct idrange_files files;

/* The four files, "" for one that does not exist. */
static void put(const char *passwd, const char *group, const char *subuid, const char *subgid)
{
    const char *texts[4] = {passwd, group, subuid, subgid};
    const char *names[4] = {"passwd", "group", "subuid", "subgid"};
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);

    for (int i = 0; i < 4; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
        unlink(paths[i]);
        if (texts[i][0])
            CHECK(write_file_at(dfd, names[i], texts[i], strlen(texts[i])) == 0);
    }
    close(dfd);
    files = (struct idrange_files){paths[0], paths[1], paths[2], paths[3]};
}

static const char *PASSWD = "root:x:0:0:root:/root:/bin/bash\n"
                            "# a comment\n"
                            "\n"
                            "broken line without fields\n"
                            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                            "alice:x:1000:1000::/home/alice:/bin/sh\n";
static const char *GROUP = "root:x:0:\nalice:x:1000:\n";
static const char *SUBUID = "alice:100000:65536\n";

static void test_clear(void)
{
    struct jc_err err = {0};

    put(PASSWD, GROUP, SUBUID, SUBUID);
    CHECK(idrange_check(&files, 1000000, 66, &err) == 0);
    /* Just past alice's subordinate range, and just before it. */
    CHECK(idrange_check(&files, 165536, 10, &err) == 0);
    CHECK(idrange_check(&files, 99990, 10, &err) == 0);
    /* Files that do not exist hold nothing. */
    put("", "", "", "");
    CHECK(idrange_check(&files, 1000, 1, &err) == 0);
}

static void test_user(void)
{
    struct jc_err err = {0};

    put("root:x:0:0::/root:/bin/sh\nbob:x:1000005:1000005::/home/bob:/bin/sh\n", GROUP, "", "");
    CHECK(idrange_check(&files, 1000000, 66, &err) == -1);
    CHECK_STR_CONTAINS(err.msg, "uid_base");
    CHECK_STR_CONTAINS(err.msg, "\"bob\"");
    CHECK_STR_CONTAINS(err.msg, "line 2");
    CHECK_STR_CONTAINS(err.msg, "1000000-1000065");
    CHECK_STR_CONTAINS(err.msg, "passwd");
    /* The range's last id, and one past it. */
    CHECK(idrange_check(&files, 999940, 66, &err) == -1);
    CHECK(idrange_check(&files, 999939, 66, &err) == 0);
}

static void test_group(void)
{
    struct jc_err err = {0};

    put(PASSWD, "root:x:0:\ndocker:x:1000010:alice\n", "", "");
    CHECK(idrange_check(&files, 1000000, 66, &err) == -1);
    CHECK_STR_CONTAINS(err.msg, "\"docker\"");
    CHECK_STR_CONTAINS(err.msg, "group");
}

static void test_subordinate(void)
{
    struct jc_err err = {0};

    /* A range that starts below and reaches into the task range. */
    put(PASSWD, GROUP, "alice:100000:65536\ncarol:999000:2000\n", "");
    CHECK(idrange_check(&files, 1000000, 66, &err) == -1);
    CHECK_STR_CONTAINS(err.msg, "\"carol\"");
    CHECK_STR_CONTAINS(err.msg, "subuid line 2");
    CHECK_STR_CONTAINS(err.msg, "999000-1000999");
    /* subgid alone. */
    put(PASSWD, GROUP, "", "dave:1000065:1\n");
    CHECK(idrange_check(&files, 1000000, 66, &err) == -1);
    CHECK_STR_CONTAINS(err.msg, "subgid");
    CHECK(idrange_check(&files, 1000000, 65, &err) == 0);
    /* Malformed or empty ranges name no id. */
    put(PASSWD, GROUP, "x:1000000:0\ny:abc:5\nz:1000000\n", "");
    CHECK(idrange_check(&files, 1000000, 66, &err) == 0);
}

static void test_as_the_c_library_reads(void)
{
    struct jc_err err = {0};

    /* strtoul's view: blanks and a '+' before the digits. */
    put("root:x:0:0::/root:/bin/sh\neve:x: +1000007:0::/:/bin/sh\n", GROUP, "", "");
    CHECK(idrange_check(&files, 1000000, 66, &err) == -1);
    CHECK_STR_CONTAINS(err.msg, "\"eve\"");
    /* A primary gid in the range, with no group line for it. */
    put("root:x:0:0::/root:/bin/sh\nfrank:x:1000:1000009::/:/bin/sh\n", GROUP, "", "");
    CHECK(idrange_check(&files, 1000000, 66, &err) == -1);
    CHECK_STR_CONTAINS(err.msg, "\"frank\"");
    /* The last line without its newline. */
    put("root:x:0:0::/root:/bin/sh\ngina:x:1000065:0::/:/bin/sh", GROUP, "", "");
    CHECK(idrange_check(&files, 1000000, 66, &err) == -1);
    CHECK_STR_CONTAINS(err.msg, "line 2");
}

/* A symlinked file is followed (images and configuration tools link
 * them); a link to nothing holds nothing. */
static void test_symlinks(void)
{
    struct jc_err err = {0};
    char target[300];

    put("", GROUP, "", "");
    snprintf(target, sizeof target, "%s/passwd.real", dir);
    CHECK(symlink(target, paths[0]) == 0);
    CHECK(idrange_check(&files, 1000000, 66, &err) == 0); /* dangling */
    put("", GROUP, "", "");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    const char *text = "hank:x:1000001:0::/:/bin/sh\n";
    CHECK(write_file_at(dfd, "passwd.real", text, strlen(text)) == 0);
    close(dfd);
    CHECK(symlink(target, paths[0]) == 0);
    CHECK(idrange_check(&files, 1000000, 66, &err) == -1);
    CHECK_STR_CONTAINS(err.msg, "\"hank\"");
    CHECK_STR_CONTAINS(err.msg, paths[0]);
    unlink(paths[0]);
    unlink(target);
}

static void test_unreadable(void)
{
    struct jc_err err = {0};

    put(PASSWD, GROUP, "", "");
    CHECK(unlink(paths[0]) == 0 && mkdir(paths[0], 0755) == 0); /* a directory is no passwd file */
    CHECK(idrange_check(&files, 1000000, 66, &err) == -1);
    CHECK_STR_CONTAINS(err.msg, "passwd");
    CHECK(rmdir(paths[0]) == 0);
}

int main(void)
{
    if (!(dir = make_tmpdir("idrange"))) {
        perror("mkdtemp");
        return 1;
    }
    test_clear();
    test_user();
    test_group();
    test_subordinate();
    test_as_the_c_library_reads();
    test_symlinks();
    test_unreadable();
    rm_tree(dir);
    return check_summary();
}
