/*
 * test_combine.c - golden cases for Tempo's combiner (research/tempo.md
 * §4.5; vparquet4 combiner.go and nested_set_model.go). Each expected value
 * below was worked out by hand from those rules, not taken from a run:
 *
 *   - spans are deduped by token = SpanIDToUint64(id) ^ kindHash[kind];
 *   - Result() sorts (spans by start, then ID bytes), rebatches (same
 *     resource, same scope: one ResourceSpans / ScopeSpans), then numbers the
 *     nested set: a counter from 1, shared across roots, NestedSetLeft on
 *     entering a span, NestedSetRight on leaving it, ParentID = the parent's
 *     left bound, -1 for a root; children in the order the spans are found;
 *   - a parent ID held by two spans picks by kind (server <-> client);
 *     three spans with one ID zero every bound and mark the trace not
 *     connected; a span whose parent is absent keeps its old bounds;
 *   - ServiceStats: per service.name, the span count and the spans with
 *     status code 2.
 *
 * The "trace over max_bytes_per_trace" case needs the merge, which applies
 * the limit before the combiner: it writes the hand-built traces as blocks
 * and runs compact_job() (trace_over_max_bytes_per_trace).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/uuid.h"
#include "compact/combine.h"
#include "compact/compact.h"
#include "parquet/parquet.h"
#include "tempo/meta.h"
#include "tempo/vp4.h"
#include "tempo/vp4_block.h"
#include "test.h"

#define SERVER 2
#define CLIENT 3
#define INTERNAL 1

/* One span of a hand-built trace. IDs are 8 bytes, 00..00<id>; parent 0 =
 * root. Bounds are what the input row carried (the combiner recomputes
 * them, except for a span it cannot place). */
struct sp {
    uint8_t id, parent;
    int kind;
    uint64_t start, dur;
    int status;
    int32_t left, right, pid;
};

static struct parquet_arena arena;

static struct vp4_bytes
str(const char *s)
{
    struct vp4_bytes b = {(const uint8_t *)s, (uint32_t)strlen(s)};
    return b;
}

static struct vp4_bytes
id8(uint8_t v)
{
    uint8_t *p = parquet_arena_alloc(&arena, 8);
    struct vp4_bytes b = {p, 8};

    ASSERT(p != NULL);
    memset(p, 0, 8);
    p[7] = v;
    return b;
}

static const uint8_t trace_id[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34};

static struct vp4_trace *
trace_new(uint64_t start, uint64_t end, const char *root_svc, const char *root_span)
{
    struct vp4_trace *t = parquet_arena_alloc(&arena, sizeof(*t));

    ASSERT(t != NULL);
    memset(t, 0, sizeof(*t));
    t->trace_id.p = trace_id;
    t->trace_id.len = 16;
    t->trace_id_text = str("1234");
    t->start = start;
    t->end = end;
    t->duration = end - start;
    t->root_service = str(root_svc);
    t->root_span = str(root_span);
    /* stale stats an input may carry: the combiner must recompute them */
    t->nstats = 1;
    t->stats = parquet_arena_alloc(&arena, sizeof(*t->stats));
    t->stats[0].service = str("stale");
    t->stats[0].span_count = 99;
    t->stats[0].error_count = 99;
    t->rs = parquet_arena_alloc(&arena, 8 * sizeof(*t->rs));
    ASSERT(t->rs != NULL);
    return t;
}

/* Appends a ResourceSpans of service svc with one ScopeSpans "lib". */
static void
add_rs(struct vp4_trace *t, const char *svc, const struct sp *s, uint32_t n)
{
    struct vp4_resource_spans *rs = &t->rs[t->nrs++];
    struct vp4_scope_spans *ss;
    uint32_t i;

    memset(rs, 0, sizeof(*rs));
    rs->service_name = str(svc);
    rs->nss = 1;
    rs->ss = ss = parquet_arena_alloc(&arena, sizeof(*ss));
    memset(ss, 0, sizeof(*ss));
    ss->scope_name = str("lib");
    ss->scope_version = str("1.0");
    ss->nspans = n;
    ss->spans = parquet_arena_alloc(&arena, n * sizeof(*ss->spans));
    for (i = 0; i < n; i++) {
        struct vp4_span *o = &ss->spans[i];
        memset(o, 0, sizeof(*o));
        o->span_id = id8(s[i].id);
        if (s[i].parent)
            o->parent_span_id = id8(s[i].parent);
        o->kind = s[i].kind;
        o->start = s[i].start;
        o->duration = s[i].dur;
        o->status_code = s[i].status;
        o->name = str("op");
        o->nested_left = s[i].left;
        o->nested_right = s[i].right;
        o->parent_id = s[i].pid;
    }
}

/* The combined trace must be one ResourceSpans with one ScopeSpans (all
 * inputs share resource and scope); returns its spans. */
static const struct vp4_span *
one_scope(const struct vp4_trace *t, uint32_t want_spans)
{
    ASSERT_EQ(t->nrs, 1);
    ASSERT_EQ(t->rs[0].nss, 1);
    ASSERT_EQ(t->rs[0].ss[0].nspans, want_spans);
    return t->rs[0].ss[0].spans;
}

static void
check_span(const struct vp4_span *s, uint8_t id, int kind, int32_t left, int32_t right, int32_t pid)
{
    ASSERT_EQ(s->span_id.len, 8);
    ASSERT_EQ(s->span_id.p[7], id);
    ASSERT_EQ(s->kind, kind);
    ASSERT_EQ(s->nested_left, left);
    ASSERT_EQ(s->nested_right, right);
    ASSERT_EQ(s->parent_id, pid);
}

static struct vp4_trace *
combine2(const struct vp4_trace *a, const struct vp4_trace *b, struct combine_stats *st)
{
    const struct vp4_trace *in[2] = {a, b};
    struct vp4_trace *out = NULL;
    struct tc_err err;

    ASSERT_OK(combine_traces(in, 2, &arena, &out, st, &err));
    ASSERT(out != NULL);
    return out;
}

/*
 * R(01) root, A(02) and B(03) children of R, C(04) child of A. Input 1
 * holds R and A; input 2 holds C, B and a copy of A. After the sort the
 * spans are R(100) A(110) C(115) B(120); R's children in that order are
 * A, B. DFS: enter R 1, enter A 2, enter C 3, leave C 4, leave A 5,
 * enter B 6, leave B 7, leave R 8. ParentIDs: R -1, A 1, C 2, B 1.
 */
TEST(nested_set_numbering)
{
    struct sp s1[] = {{1, 0, SERVER, 100, 100, 0, 0, 0, 0}, {2, 1, CLIENT, 110, 50, 0, 0, 0, 0}};
    struct sp s2[] = {{4, 2, SERVER, 115, 20, 0, 0, 0, 0},
                      {3, 1, CLIENT, 120, 30, 0, 0, 0, 0},
                      {2, 1, CLIENT, 110, 50, 0, 0, 0, 0}};
    struct vp4_trace *a, *b, *t;
    const struct vp4_span *s;
    struct combine_stats st;

    parquet_arena_init(&arena);
    a = trace_new(100, 200, "", "");
    add_rs(a, "svc", s1, 2);
    b = trace_new(110, 250, "svc", "root-op");
    add_rs(b, "svc", s2, 3);
    t = combine2(a, b, &st);
    /* trace-level fields: min start, max end, first non-empty names */
    ASSERT_U64_EQ(t->start, 100);
    ASSERT_U64_EQ(t->end, 250);
    ASSERT_U64_EQ(t->duration, 150);
    ASSERT(t->root_service.len == 3 && memcmp(t->root_service.p, "svc", 3) == 0);
    ASSERT(t->root_span.len == 7 && memcmp(t->root_span.p, "root-op", 7) == 0);
    ASSERT(memcmp(t->trace_id.p, trace_id, 16) == 0);
    ASSERT_U64_EQ(st.spans_deduped, 1);
    ASSERT_U64_EQ(st.disconnected, 0);
    s = one_scope(t, 4);
    check_span(&s[0], 1, SERVER, 1, 8, -1);
    check_span(&s[1], 2, CLIENT, 2, 5, 1);
    check_span(&s[2], 4, SERVER, 3, 4, 2);
    check_span(&s[3], 3, CLIENT, 6, 7, 1);
    parquet_arena_cleanup(&arena);
}

/*
 * Two roots share the counter: R1(01) with child X(02), R2(05) with child
 * Y(06), found in that order. R1 1, X 2/3, R1 4; R2 5, Y 6/7, R2 8.
 */
TEST(nested_set_counter_shared_across_roots)
{
    struct sp s1[] = {{1, 0, SERVER, 100, 10, 0, 0, 0, 0}, {2, 1, CLIENT, 101, 5, 0, 0, 0, 0}};
    struct sp s2[] = {{5, 0, SERVER, 200, 10, 0, 0, 0, 0}, {6, 5, CLIENT, 201, 5, 0, 0, 0, 0}};
    struct vp4_trace *a, *b, *t;
    const struct vp4_span *s;
    struct combine_stats st;

    parquet_arena_init(&arena);
    a = trace_new(100, 110, "svc", "r1");
    add_rs(a, "svc", s1, 2);
    b = trace_new(200, 210, "svc", "r2");
    add_rs(b, "svc", s2, 2);
    t = combine2(a, b, &st);
    ASSERT_U64_EQ(st.spans_deduped, 0);
    s = one_scope(t, 4);
    check_span(&s[0], 1, SERVER, 1, 4, -1);
    check_span(&s[1], 2, CLIENT, 2, 3, 1);
    check_span(&s[2], 5, SERVER, 5, 8, -1);
    check_span(&s[3], 6, CLIENT, 6, 7, 5);
    parquet_arena_cleanup(&arena);
}

/*
 * Zipkin's shared span: client C and server S both have ID 05. Input 1:
 * R(01), C(05 client, parent 01). Input 2: S(05 server, parent 05), X(06
 * internal, parent 05) and a copy of C. The copy of C is a duplicate (same
 * ID, same kind); S is not (other kind, other token). Parents: C -> R (one
 * node 01); S is a server, so of the two nodes 05 it takes the client C;
 * X is not a server, so it takes the server S. A chain: R 1/8, C 2/7,
 * S 3/6, X 4/5; ParentIDs -1, 1, 2, 3.
 */
TEST(same_span_id_two_kinds)
{
    struct sp s1[] = {{1, 0, SERVER, 100, 100, 0, 0, 0, 0}, {5, 1, CLIENT, 110, 50, 0, 0, 0, 0}};
    struct sp s2[] = {{5, 5, SERVER, 120, 30, 0, 0, 0, 0},
                      {6, 5, INTERNAL, 130, 10, 0, 0, 0, 0},
                      {5, 1, CLIENT, 110, 50, 0, 0, 0, 0}};
    struct vp4_trace *a, *b, *t;
    const struct vp4_span *s;
    struct combine_stats st;

    parquet_arena_init(&arena);
    a = trace_new(100, 200, "svc", "root");
    add_rs(a, "svc", s1, 2);
    b = trace_new(120, 150, "", "");
    add_rs(b, "svc", s2, 3);
    t = combine2(a, b, &st);
    ASSERT_U64_EQ(st.spans_deduped, 1);
    ASSERT_U64_EQ(st.disconnected, 0);
    s = one_scope(t, 4);
    check_span(&s[0], 1, SERVER, 1, 8, -1);
    check_span(&s[1], 5, CLIENT, 2, 7, 1);
    check_span(&s[2], 5, SERVER, 3, 6, 2);
    check_span(&s[3], 6, INTERNAL, 4, 5, 3);
    /* the tokens differ by kind only */
    ASSERT(combine_span_token(s[1].span_id.p, 8, CLIENT) !=
           combine_span_token(s[2].span_id.p, 8, SERVER));
    ASSERT(combine_span_token(s[1].span_id.p, 8, 9) == combine_span_token(s[1].span_id.p, 8, 0));
    parquet_arena_cleanup(&arena);
}

/*
 * Three spans with ID 05 (client, server, internal: three tokens, none a
 * duplicate). nodesByID[05] grows past 2, so every span's bounds and
 * ParentID become 0 (even those that carried values) and the trace counts
 * as not connected.
 */
TEST(more_than_two_spans_one_id)
{
    struct sp s1[] = {{1, 0, SERVER, 100, 100, 0, 1, 8, -1}, {5, 1, CLIENT, 110, 50, 0, 2, 7, 1}};
    struct sp s2[] = {{5, 5, SERVER, 120, 30, 0, 3, 6, 2}, {5, 5, INTERNAL, 130, 10, 0, 4, 5, 3}};
    struct vp4_trace *a, *b, *t;
    const struct vp4_span *s;
    struct combine_stats st;
    uint32_t i;

    parquet_arena_init(&arena);
    a = trace_new(100, 200, "svc", "root");
    add_rs(a, "svc", s1, 2);
    b = trace_new(120, 150, "svc", "root");
    add_rs(b, "svc", s2, 2);
    t = combine2(a, b, &st);
    ASSERT_U64_EQ(st.spans_deduped, 0);
    ASSERT_U64_EQ(st.disconnected, 1);
    s = one_scope(t, 4);
    for (i = 0; i < 4; i++) {
        ASSERT_EQ(s[i].nested_left, 0);
        ASSERT_EQ(s[i].nested_right, 0);
        ASSERT_EQ(s[i].parent_id, 0);
    }
    ASSERT_EQ(s[0].span_id.p[7], 1);
    ASSERT_EQ(s[3].kind, INTERNAL);
    /* ServiceStats are still recomputed: 4 spans of svc */
    ASSERT_EQ(t->nstats, 1);
    ASSERT_EQ(t->stats[0].span_count, 4);
    parquet_arena_cleanup(&arena);
}

/*
 * D(09) names a parent (77) that no input holds. R(01) and A(02) are
 * numbered (R 1/4, A 2/3); D is skipped by the DFS, so it keeps the bounds
 * its input row carried (7, 8, parent 3), and the trace counts as not
 * connected. The duplicate of A is dropped.
 */
TEST(disconnected_span)
{
    struct sp s1[] = {{1, 0, SERVER, 100, 100, 0, 0, 0, 0}, {2, 1, CLIENT, 110, 50, 0, 0, 0, 0}};
    struct sp s2[] = {{9, 0x77, SERVER, 130, 10, 0, 7, 8, 3}, {2, 1, CLIENT, 110, 50, 0, 0, 0, 0}};
    struct vp4_trace *a, *b, *t;
    const struct vp4_span *s;
    struct combine_stats st;

    parquet_arena_init(&arena);
    a = trace_new(100, 200, "svc", "root");
    add_rs(a, "svc", s1, 2);
    b = trace_new(110, 140, "svc", "root");
    add_rs(b, "svc", s2, 2);
    t = combine2(a, b, &st);
    ASSERT_U64_EQ(st.spans_deduped, 1);
    ASSERT_U64_EQ(st.disconnected, 1);
    s = one_scope(t, 3);
    check_span(&s[0], 1, SERVER, 1, 4, -1);
    check_span(&s[1], 2, CLIENT, 2, 3, 1);
    check_span(&s[2], 9, SERVER, 7, 8, 3);
    parquet_arena_cleanup(&arena);
}

/* No span without a parent: Go returns before numbering and leaves the
 * bounds as they were; the trace is not connected. */
TEST(no_root_leaves_bounds)
{
    struct sp s1[] = {{2, 1, CLIENT, 110, 50, 0, 2, 3, 1}};
    struct sp s2[] = {{3, 1, CLIENT, 120, 50, 0, 4, 5, 1}};
    struct vp4_trace *a, *b, *t;
    const struct vp4_span *s;
    struct combine_stats st;

    parquet_arena_init(&arena);
    a = trace_new(110, 160, "", "");
    add_rs(a, "svc", s1, 1);
    b = trace_new(120, 170, "", "");
    add_rs(b, "svc", s2, 1);
    t = combine2(a, b, &st);
    ASSERT_U64_EQ(st.disconnected, 1);
    ASSERT_U64_EQ(st.rootless, 1);
    s = one_scope(t, 2);
    check_span(&s[0], 2, CLIENT, 2, 3, 1);
    check_span(&s[1], 3, CLIENT, 4, 5, 1);
    parquet_arena_cleanup(&arena);
}

/*
 * ServiceStats from the combined spans, not from the inputs' stale stats.
 * Input 1: service a {01 root ok, 02 error}, service b {03 error}. Input 2:
 * service b {03 error (duplicate), 04 ok}, service c {05 status 1 = ok}.
 * Result, by service name: a 2 spans 1 error, b 2 spans 1 error (the
 * duplicate counts once), c 1 span 0 errors.
 */
TEST(service_stats)
{
    struct sp a1[] = {{1, 0, SERVER, 100, 100, 0, 0, 0, 0}, {2, 1, CLIENT, 110, 10, 2, 0, 0, 0}};
    struct sp b1[] = {{3, 2, SERVER, 112, 5, 2, 0, 0, 0}};
    struct sp b2[] = {{3, 2, SERVER, 112, 5, 2, 0, 0, 0}, {4, 3, CLIENT, 113, 2, 0, 0, 0, 0}};
    struct sp c2[] = {{5, 4, SERVER, 114, 1, 1, 0, 0, 0}};
    struct vp4_trace *a, *b, *t;
    struct combine_stats st;
    uint32_t i, spans = 0;

    parquet_arena_init(&arena);
    a = trace_new(100, 200, "a", "root");
    add_rs(a, "a", a1, 2);
    add_rs(a, "b", b1, 1);
    b = trace_new(112, 150, "a", "root");
    add_rs(b, "b", b2, 2);
    add_rs(b, "c", c2, 1);
    t = combine2(a, b, &st);
    ASSERT_U64_EQ(st.spans_deduped, 1);
    ASSERT_U64_EQ(st.disconnected, 0);
    ASSERT_EQ(t->nstats, 3);
    ASSERT_EQ(t->stats[0].service.len, 1);
    ASSERT_EQ(t->stats[0].service.p[0], 'a');
    ASSERT_EQ(t->stats[0].span_count, 2);
    ASSERT_EQ(t->stats[0].error_count, 1);
    ASSERT_EQ(t->stats[1].service.p[0], 'b');
    ASSERT_EQ(t->stats[1].span_count, 2);
    ASSERT_EQ(t->stats[1].error_count, 1);
    ASSERT_EQ(t->stats[2].service.p[0], 'c');
    ASSERT_EQ(t->stats[2].span_count, 1);
    ASSERT_EQ(t->stats[2].error_count, 0);
    /* the b ResourceSpans of both inputs are one after the rebatch */
    ASSERT_EQ(t->nrs, 3);
    for (i = 0; i < t->nrs; i++)
        spans += t->rs[i].ss[0].nspans;
    ASSERT_EQ(spans, 5);
    parquet_arena_cleanup(&arena);
}

/*
 * More than two inputs: the last input's new spans are not recorded, so a
 * span that appears only in the last input twice is kept twice (Go's final
 * optimisation), while a span of input 2 repeated in input 3 is dropped.
 * Inputs: {R}, {A, B}, {A, C, C}. Result R A B C C (5 spans), 2 dropped
 * (A in input 3 ... and nothing else: the second C is new to the set).
 */
TEST(three_inputs_final_not_recorded)
{
    struct sp s1[] = {{1, 0, SERVER, 100, 100, 0, 0, 0, 0}};
    struct sp s2[] = {{2, 1, CLIENT, 110, 10, 0, 0, 0, 0}, {3, 1, CLIENT, 120, 10, 0, 0, 0, 0}};
    struct sp s3[] = {{2, 1, CLIENT, 110, 10, 0, 0, 0, 0},
                      {4, 1, CLIENT, 130, 10, 0, 0, 0, 0},
                      {4, 1, CLIENT, 130, 10, 0, 0, 0, 0}};
    struct vp4_trace *in[3], *t = NULL;
    const struct vp4_trace *cin[3];
    const struct vp4_span *s;
    struct combine_stats st;
    struct tc_err err;

    parquet_arena_init(&arena);
    in[0] = trace_new(100, 200, "svc", "root");
    add_rs(in[0], "svc", s1, 1);
    in[1] = trace_new(110, 130, "svc", "root");
    add_rs(in[1], "svc", s2, 2);
    in[2] = trace_new(110, 140, "svc", "root");
    add_rs(in[2], "svc", s3, 3);
    cin[0] = in[0];
    cin[1] = in[1];
    cin[2] = in[2];
    ASSERT_OK(combine_traces(cin, 3, &arena, &t, &st, &err));
    ASSERT_U64_EQ(st.spans_deduped, 1);
    s = one_scope(t, 5);
    ASSERT_EQ(s[0].span_id.p[7], 1);
    ASSERT_EQ(s[1].span_id.p[7], 2);
    ASSERT_EQ(s[2].span_id.p[7], 3);
    ASSERT_EQ(s[3].span_id.p[7], 4);
    ASSERT_EQ(s[4].span_id.p[7], 4);
    /* two spans with ID 04 and the same kind: findParent for a child of 04
     * would need the kind rule; here they are leaves. R's children: A, B,
     * C, C. R 1/10, A 2/3, B 4/5, C 6/7, C 8/9. */
    check_span(&s[0], 1, SERVER, 1, 10, -1);
    check_span(&s[1], 2, CLIENT, 2, 3, 1);
    check_span(&s[2], 3, CLIENT, 4, 5, 1);
    check_span(&s[3], 4, CLIENT, 6, 7, 1);
    check_span(&s[4], 4, CLIENT, 8, 9, 1);
    parquet_arena_cleanup(&arena);
}

/*
 * Equal start times sort by span ID bytes, within each ScopeSpans; the
 * rebatch then appends the second input's spans after the first's with no
 * sort of its own (rebatchTrace runs after SortTrace). Input 1: R(100),
 * 09(150), 03(150) -> R 03 09. Input 2: 05(140), sorted alone. Result:
 * R 03 09 05, although 05 starts first.
 */
TEST(sort_ties_by_span_id_then_rebatch_appends)
{
    struct sp s1[] = {{1, 0, SERVER, 100, 100, 0, 0, 0, 0},
                      {9, 1, CLIENT, 150, 10, 0, 0, 0, 0},
                      {3, 1, CLIENT, 150, 10, 0, 0, 0, 0}};
    struct sp s2[] = {{5, 1, CLIENT, 140, 10, 0, 0, 0, 0}};
    struct vp4_trace *a, *b, *t;
    const struct vp4_span *s;
    struct combine_stats st;

    parquet_arena_init(&arena);
    a = trace_new(100, 200, "svc", "root");
    add_rs(a, "svc", s1, 3);
    b = trace_new(140, 150, "svc", "root");
    add_rs(b, "svc", s2, 1);
    t = combine2(a, b, &st);
    s = one_scope(t, 4);
    check_span(&s[0], 1, SERVER, 1, 8, -1);
    check_span(&s[1], 3, CLIENT, 2, 3, 1);
    check_span(&s[2], 9, CLIENT, 4, 5, 1);
    check_span(&s[3], 5, CLIENT, 6, 7, 1);
    parquet_arena_cleanup(&arena);
}

/* ---- max_bytes_per_trace, through the merge ---- */

static char root[256];

/* IDs 00..00<last> sort before the shared 00..1234; <first>00..00 after. */
static void
set_trace_id(struct vp4_trace *t, uint8_t first, uint8_t last)
{
    uint8_t *p = parquet_arena_alloc(&arena, 16);

    ASSERT(p != NULL);
    memset(p, 0, 16);
    p[0] = first;
    p[15] = last;
    t->trace_id.p = p;
}

/* Writes the traces (ascending IDs) as one level-0 block of tenant t1. */
static void
write_block(struct backend *be, struct vp4_trace *const *t, size_t n, struct meta *out)
{
    struct parquet_schema *s;
    struct vp4_block *w;
    struct vp4_block_opts o;
    struct meta tmpl;
    struct tc_err err;
    size_t i;

    ASSERT_OK(vp4_schema_new(&s, &err));
    meta_init(&tmpl);
    tmpl.version = meta_intern("vParquet4", 9);
    tmpl.tenant = meta_intern("t1", 2);
    tmpl.start_s = (int64_t)time(NULL) - 7200;
    tmpl.end_s = tmpl.start_s + 600;
    memset(&o, 0, sizeof(o));
    vp4_block_cfg_defaults(&o.cfg);
    o.be = be;
    o.tenant = "t1";
    o.schema = s;
    o.est_objects = n;
    o.tmpl = &tmpl;
    o.spool_dir = root;
    ASSERT_OK(vp4_block_open(&w, &o, &err));
    for (i = 0; i < n; i++)
        ASSERT_OK(vp4_block_add_trace(w, t[i], &err));
    ASSERT_OK(vp4_block_close(w, out, &err));
    vp4_block_free(w);
    parquet_schema_free(s);
}

/* Tempo's estimateProtoSizeFromParquetRow of the trace's row. */
static size_t
proto_size(const struct vp4_trace *t)
{
    struct parquet_schema *s;
    struct parquet_rowset rs;
    struct parquet_rowiter it;
    struct parquet_row row;
    struct tc_err err;
    size_t n;

    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(parquet_rowset_init(&rs, s));
    ASSERT_OK(vp4_trace_to_rowset(t, s, &arena, &rs, &err));
    ASSERT_OK(parquet_rowiter_init(&it, &rs));
    ASSERT(parquet_rowiter_next(&it, &row));
    n = parquet_row_estimate_proto_size(&row);
    parquet_rowiter_cleanup(&it);
    parquet_rowset_cleanup(&rs);
    parquet_schema_free(s);
    return n;
}

/* Spans per trace ID in the output block, read back with the reader. */
static void
count_spans(const struct meta *m, uint32_t *shared_spans, uint32_t *traces)
{
    char ids[64], path[512];
    struct parquet_reader *r;
    struct parquet_cursor *c;
    struct parquet_schema *s;
    struct parquet_arena a;
    struct parquet_row row;
    struct tc_err err;
    int eof = 0;
    uint32_t rr, ss;

    *shared_spans = *traces = 0;
    uuid_format(m->id, ids);
    snprintf(path, sizeof(path), "%s/t1/%s/data.parquet", root, ids);
    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(parquet_reader_open(&r, path, &err));
    ASSERT_OK(parquet_reader_project(r, s, &err));
    ASSERT_OK(parquet_cursor_new(&c, r, &err));
    parquet_arena_init(&a);
    for (;;) {
        struct vp4_trace *t;
        ASSERT_OK(parquet_cursor_next(c, &row, &eof, &err));
        if (eof)
            break;
        (*traces)++;
        ASSERT_OK(vp4_trace_from_row(&row, s, &a, &t, &err));
        if (t->trace_id.p[15] != 0x34)
            continue;
        for (rr = 0; rr < t->nrs; rr++)
            for (ss = 0; ss < t->rs[rr].nss; ss++)
                *shared_spans += t->rs[rr].ss[ss].nspans;
    }
    parquet_arena_cleanup(&a);
    parquet_cursor_free(c);
    parquet_reader_free(r);
    parquet_schema_free(s);
}

/*
 * Trace 0x34 is in both inputs: input 1 holds R, A, B; input 2 holds a copy
 * of A and C. The limit applies to the sum of the rows' proto-size
 * estimates, strictly greater than max_bytes_per_trace:
 *   - max = e1 + e2: combined, R A B C (4 spans), 1 span deduped, nothing
 *     discarded;
 *   - max = e1 + e2 - 1: the first copy is kept as it is (3 spans) and all
 *     2 spans of the second copy count as discarded, in the result and in
 *     tempo_discarded_spans_total{reason="trace_too_large_to_compact",
 *     tenant="t1"}.
 * Traces 00..01 (input 1) and 99..00 (input 2) are alone and copied either way.
 */
TEST(trace_over_max_bytes_per_trace)
{
    struct sp s1[] = {{1, 0, SERVER, 100, 100, 0, 0, 0, 0},
                      {2, 1, CLIENT, 110, 50, 0, 0, 0, 0},
                      {3, 1, CLIENT, 120, 30, 0, 0, 0, 0}};
    struct sp s2[] = {{2, 1, CLIENT, 110, 50, 0, 0, 0, 0}, {4, 2, SERVER, 115, 20, 0, 0, 0, 0}};
    struct sp lone[] = {{1, 0, SERVER, 100, 10, 0, 0, 0, 0}};
    static const char *const lbl[] = {"reason", "tenant", NULL};
    const char *vals[] = {"trace_too_large_to_compact", "t1"};
    struct vp4_trace *b1[2], *b2[2];
    struct meta m[2], m2[2];
    const struct meta *in[2] = {&m[0], &m[1]};
    const struct meta *in2[2] = {&m2[0], &m2[1]};
    struct compact_cfg cfg;
    struct compact_result res;
    struct backend *be;
    struct metric *discarded;
    struct tc_err err;
    size_t e1, e2;
    uint32_t spans, traces;
    double before;

    snprintf(root, sizeof(root), "/tmp/tc-combine.XXXXXX");
    ASSERT(mkdtemp(root) != NULL);
    log_set_level("error");
    parquet_arena_init(&arena);
    be = backend_local_new(root, &err);
    ASSERT(be != NULL);
    b1[0] = trace_new(100, 110, "svc", "op");
    add_rs(b1[0], "svc", lone, 1);
    set_trace_id(b1[0], 0, 0x01);
    b1[1] = trace_new(100, 200, "svc", "op");
    add_rs(b1[1], "svc", s1, 3);
    b2[0] = trace_new(110, 160, "svc", "op");
    add_rs(b2[0], "svc", s2, 2);
    b2[1] = trace_new(100, 110, "svc", "op");
    add_rs(b2[1], "svc", lone, 1);
    set_trace_id(b2[1], 0x99, 0);
    e1 = proto_size(b1[1]);
    e2 = proto_size(b2[0]);
    ASSERT_GT(e1, 0);
    ASSERT_GT(e2, 0);
    compact_metrics_init();
    discarded = metrics_counter(metrics_default(), "tempo_discarded_spans_total",
                                "The total number of samples that were discarded.", lbl);
    ASSERT(discarded != NULL);

    /* at the limit: combined */
    write_block(be, b1, 2, &m[0]);
    write_block(be, b2, 2, &m[1]);
    memset(&cfg, 0, sizeof(cfg));
    vp4_block_cfg_defaults(&cfg.block);
    cfg.max_bytes_per_trace = e1 + e2;
    before = metrics_value(discarded, vals);
    ASSERT_OK(compact_job(be, NULL, "t1", in, 2, &cfg, NULL, NULL, NULL, &res, &err));
    ASSERT_U64_EQ(res.objects_combined, 1);
    ASSERT_U64_EQ(res.spans_deduped, 1);
    ASSERT_U64_EQ(res.spans_discarded, 0);
    ASSERT_DBL_NEAR(metrics_value(discarded, vals), before, 1e-9);
    count_spans(&res.out, &spans, &traces);
    ASSERT_EQ(traces, 3);
    ASSERT_EQ(spans, 4);

    /* one byte under: the first copy alone, the second's spans discarded */
    write_block(be, b1, 2, &m2[0]);
    write_block(be, b2, 2, &m2[1]);
    cfg.max_bytes_per_trace = e1 + e2 - 1;
    ASSERT_OK(compact_job(be, NULL, "t1", in2, 2, &cfg, NULL, NULL, NULL, &res, &err));
    ASSERT_U64_EQ(res.objects_combined, 0);
    ASSERT_U64_EQ(res.spans_discarded, 2);
    ASSERT_DBL_NEAR(metrics_value(discarded, vals), before + 2, 1e-9);
    count_spans(&res.out, &spans, &traces);
    ASSERT_EQ(traces, 3);
    ASSERT_EQ(spans, 3);
    backend_free(be);
    parquet_arena_cleanup(&arena);
}

/* Writes one block per trace (one trace each, inputs in this order),
 * compacts the three and checks that the trace was combined once, with
 * want_deduped spans deduped and want_spans spans out. */
static void
compact_three(struct backend *be, const struct compact_cfg *cfg, struct vp4_trace *const *t,
              uint64_t want_deduped, uint32_t want_spans)
{
    struct meta m[3];
    const struct meta *in[3] = {&m[0], &m[1], &m[2]};
    struct compact_result res;
    struct tc_err err;
    uint32_t spans, traces;

    for (int i = 0; i < 3; i++)
        write_block(be, &t[i], 1, &m[i]);
    ASSERT_OK(compact_job(be, NULL, "t1", in, 3, cfg, NULL, NULL, NULL, &res, &err));
    ASSERT_U64_EQ(res.objects_combined, 1);
    ASSERT_U64_EQ(res.spans_deduped, want_deduped);
    count_spans(&res.out, &spans, &traces);
    ASSERT_EQ(traces, 1);
    ASSERT_EQ(spans, want_spans);
}

/*
 * A copy byte-equal to an earlier one adds nothing to the combiner, so the
 * merge skips it, but only when it is not the last: the last trace is the
 * final one, whose own duplicates the combiner keeps. Trace 0x34, R(01) A(02)
 * in block P, C(04) twice and a copy of A in block Q:
 *   - inputs P, P, Q: the second P is skipped; its 2 spans count as deduped,
 *     A of Q too (3); Q is final, so both Cs stay: R A C C;
 *   - inputs P, Q, P: nothing is skipped; Q is not final, so its A and its
 *     second C are deduped, then the last P's R and A (4): R A C.
 * Skipping the last P as well would make Q final: R A C C, 1 deduped.
 */
TEST(byte_equal_copy_skipped_unless_final)
{
    struct sp sp_p[] = {{1, 0, SERVER, 100, 100, 0, 0, 0, 0}, {2, 1, CLIENT, 110, 10, 0, 0, 0, 0}};
    struct sp sp_q[] = {{2, 1, CLIENT, 110, 10, 0, 0, 0, 0},
                        {4, 1, CLIENT, 130, 10, 0, 0, 0, 0},
                        {4, 1, CLIENT, 130, 10, 0, 0, 0, 0}};
    struct vp4_trace *p, *q;
    struct compact_cfg cfg;
    struct backend *be;
    struct tc_err err;

    snprintf(root, sizeof(root), "/tmp/tc-combine.XXXXXX");
    ASSERT(mkdtemp(root) != NULL);
    log_set_level("error");
    parquet_arena_init(&arena);
    be = backend_local_new(root, &err);
    ASSERT(be != NULL);
    p = trace_new(100, 200, "svc", "root");
    add_rs(p, "svc", sp_p, 2);
    q = trace_new(110, 140, "svc", "root");
    add_rs(q, "svc", sp_q, 3);
    memset(&cfg, 0, sizeof(cfg));
    vp4_block_cfg_defaults(&cfg.block);
    compact_metrics_init();
    compact_three(be, &cfg, (struct vp4_trace *[]){p, p, q}, 3, 4);
    compact_three(be, &cfg, (struct vp4_trace *[]){p, q, p}, 4, 3);
    backend_free(be);
    parquet_arena_cleanup(&arena);
}

TEST_MAIN(TEST_ENTRY(nested_set_numbering), TEST_ENTRY(nested_set_counter_shared_across_roots),
          TEST_ENTRY(same_span_id_two_kinds), TEST_ENTRY(more_than_two_spans_one_id),
          TEST_ENTRY(disconnected_span), TEST_ENTRY(no_root_leaves_bounds),
          TEST_ENTRY(service_stats), TEST_ENTRY(three_inputs_final_not_recorded),
          TEST_ENTRY(sort_ties_by_span_id_then_rebatch_appends),
          TEST_ENTRY(trace_over_max_bytes_per_trace),
          TEST_ENTRY(byte_equal_copy_skipped_unless_final))
