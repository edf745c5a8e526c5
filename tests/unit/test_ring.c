/* test_ring.c - rendezvous ownership: balance, minimal movement, live peers. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/http_server.h"
#include "base/log.h"
#include "plan/ring.h"
#include "test.h"

#define NJOBS 30000

static const char *
job(int i)
{
    static char b[64];

    snprintf(b, sizeof(b), "single-tenant-%d-%d-0", i % 5, 460000 + i);
    return b;
}

TEST(pick_balances_and_moves_minimally)
{
    const char *three[] = {"10.0.0.1:3200", "10.0.0.2:3200", "10.0.0.3:3200"};
    const char *four[] = {"10.0.0.1:3200", "10.0.0.2:3200", "10.0.0.3:3200", "10.0.0.4:3200"};
    const char *two[] = {"10.0.0.1:3200", "10.0.0.3:3200"};
    int count[3] = {0, 0, 0}, moved_add = 0, i;

    ASSERT_EQ(ring_pick(three, 0, "x"), -1);
    for (i = 0; i < NJOBS; i++) {
        int a = ring_pick(three, 3, job(i)), b = ring_pick(four, 4, job(i));
        int c = ring_pick(two, 2, job(i));
        count[a]++;
        if (strcmp(three[a], four[b]) != 0) {
            moved_add++;
            ASSERT_EQ(b, 3); /* a job only ever moves to the new member */
        }
        if (a != 1)
            ASSERT_STR_EQ(two[c], three[a]); /* removing .2 moves only .2's jobs */
    }
    for (i = 0; i < 3; i++) {
        ASSERT_GT(count[i], NJOBS / 3 - NJOBS / 20);
        ASSERT_LT(count[i], NJOBS / 3 + NJOBS / 20);
    }
    /* adding a 4th member moves about 1/4 */
    ASSERT_GT(moved_add, NJOBS / 4 - NJOBS / 20);
    ASSERT_LT(moved_add, NJOBS / 4 + NJOBS / 20);
}

TEST(unsharded_owns_everything)
{
    struct ring *r = ring_new(NULL, 0, NULL, 3200, 1000, NULL);
    struct buf b;

    ASSERT(r != NULL);
    ASSERT_OK(ring_start(r, NULL));
    ASSERT(ring_owns(r, "a"));
    ASSERT(ring_owns(r, "b"));
    ASSERT_EQ(ring_members(r), 1);
    buf_init(&b, 0);
    ASSERT_OK(ring_status_json(r, &b));
    ASSERT_STR_CONTAINS(b.data, "\"sharded\":false");
    buf_cleanup(&b);
    ring_free(r);
}

static void
h_ready(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    buf_puts(&resp->body, "ready");
}

TEST(three_live_peers_one_owner_each_and_failover)
{
    struct http_server *srv[3];
    struct ring *rg[3];
    char addr[3][64];
    const char *peers[3];
    int port[3], i, j, owners, before[300];

    log_set_level("error");
    for (i = 0; i < 3; i++) {
        srv[i] = http_server_new("127.0.0.1", 0, NULL);
        ASSERT(srv[i] != NULL);
        ASSERT_OK(http_server_route(srv[i], "/ready", h_ready, NULL));
        ASSERT_OK(http_server_start(srv[i], NULL));
        port[i] = http_server_port(srv[i]);
        snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", port[i]);
        peers[i] = addr[i];
    }
    for (i = 0; i < 3; i++) {
        /* the self address is found from the interfaces and the port */
        rg[i] = ring_new(peers, 3, NULL, port[i], 200, NULL);
        ASSERT(rg[i] != NULL);
        ASSERT_OK(ring_start(rg[i], NULL));
        ASSERT_EQ(ring_members(rg[i]), 3);
    }
    for (j = 0; j < 300; j++) {
        owners = 0;
        for (i = 0; i < 3; i++)
            if (ring_owns(rg[i], job(j))) {
                owners++;
                before[j] = i;
            }
        ASSERT_EQ(owners, 1);
    }
    /* replica 2 dies: within a refresh its jobs move, the others stay */
    http_server_free(srv[2]);
    ring_free(rg[2]);
    for (i = 0; i < 50 && (ring_members(rg[0]) != 2 || ring_members(rg[1]) != 2); i++)
        usleep(100 * 1000);
    ASSERT_EQ(ring_members(rg[0]), 2);
    ASSERT_EQ(ring_members(rg[1]), 2);
    for (j = 0; j < 300; j++) {
        int a = ring_owns(rg[0], job(j)), b = ring_owns(rg[1], job(j));
        ASSERT_EQ(a + b, 1);
        if (before[j] != 2)
            ASSERT_EQ(a ? 0 : 1, before[j]);
    }
    for (i = 0; i < 2; i++) {
        ring_free(rg[i]);
        http_server_free(srv[i]);
    }
}

TEST(unresolvable_peers_own_nothing)
{
    /* peers that do not resolve (no DNS yet): this instance is not found
     * among them, so it takes no job rather than duplicate work */
    const char *peers[] = {"dns+no-such-peer.invalid:3200", "not-a-peer"};
    struct ring *r;
    struct buf b;

    log_set_level("error");
    r = ring_new(peers, 2, NULL, 3200, 100, NULL);
    ASSERT(r != NULL);
    ASSERT_OK(ring_start(r, NULL));
    ASSERT_EQ(ring_members(r), 0);
    ASSERT(!ring_owns(r, "tenant-0-1-0"));
    buf_init(&b, 0);
    ASSERT_OK(ring_status_json(r, &b));
    ASSERT_STR_CONTAINS(b.data, "\"self_found\":false");
    buf_cleanup(&b);
    ring_free(r);
}

TEST_MAIN(TEST_ENTRY(unresolvable_peers_own_nothing), TEST_ENTRY(pick_balances_and_moves_minimally),
          TEST_ENTRY(unsharded_owns_everything),
          TEST_ENTRY(three_live_peers_one_owner_each_and_failover))
