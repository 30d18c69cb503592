/* test_deadlines.c — unit tests for deadlines.c, the monitor's one heap of
 * deadlines: they come out in time order whatever the order they were set,
 * moved or cleared in; a full heap grows; only due ones pop. */
#include "deadlines.h"

#include <stdlib.h>

#include "check.h"

#define N 200

/* A pseudo-random but fixed sequence (no flakes). */
static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffff;
}

static void test_order(void)
{
    static struct deadline d[N];
    struct deadlines h;
    struct jc_err err;
    unsigned seed = 42;

    CHECK(deadlines_init(&h, N, &err) == 0);
    for (int i = 0; i < N; i++)
        CHECK(deadline_set(&h, &d[i], (int64_t)next_rand(&seed)) == 0);
    for (int i = 0; i < N; i += 3) /* move a third of them */
        CHECK(deadline_set(&h, &d[i], (int64_t)next_rand(&seed)) == 0);
    for (int i = 1; i < N; i += 5) /* clear some */
        deadline_clear(&h, &d[i]);
    deadline_clear(&h, &d[1]); /* twice: a no-op */
    unsigned want = 0;
    for (int i = 0; i < N; i++)
        want += d[i].pos != 0;
    CHECK(want == h.n);
    int64_t last = -1;
    unsigned got = 0;
    struct deadline *x;
    while ((x = deadlines_pop_due(&h, INT64_MAX))) {
        CHECK(x->at_ms >= last);
        CHECK(x->pos == 0);
        last = x->at_ms;
        got++;
    }
    CHECK(got == want);
    CHECK(deadlines_first(&h) == NULL);
    deadlines_free(&h);
}

static void test_due_and_growth(void)
{
    struct deadline a = {0}, b = {0}, c = {0};
    struct deadlines h;
    struct jc_err err;

    CHECK(deadlines_init(&h, 2, &err) == 0);
    CHECK(deadline_set(&h, &a, 100) == 0);
    CHECK(deadline_set(&h, &b, 50) == 0);
    CHECK(deadline_set(&h, &c, 10) == 0); /* full: it grows */
    CHECK(h.cap > 2);
    CHECK(deadlines_first(&h) == &c);
    deadline_clear(&h, &c);
    CHECK(c.pos == 0);
    CHECK(deadline_set(&h, &a, 20) == 0); /* moved */
    CHECK(deadlines_first(&h) == &a);
    CHECK(deadlines_pop_due(&h, 19) == NULL);
    CHECK(deadlines_pop_due(&h, 20) == &a);
    CHECK(deadlines_pop_due(&h, 49) == NULL);
    CHECK(deadlines_pop_due(&h, 1000) == &b);
    CHECK(deadlines_pop_due(&h, 1000) == NULL);
    deadlines_free(&h);
}

int main(void)
{
    test_order();
    test_due_and_growth();
    return check_summary();
}
