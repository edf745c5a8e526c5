/* test_hash.c - published test vectors for every hash Tempo's formats use. */
#include <string.h>

#include "base/hash.h"
#include "test.h"

TEST(fnv_vectors)
{
    ASSERT_U64_EQ(hash_fnv1a32("", 0), 0x811c9dc5u);
    ASSERT_U64_EQ(hash_fnv1a32("a", 1), 0xe40c292cu);
    ASSERT_U64_EQ(hash_fnv1a32("foobar", 6), 0xbf9cf968u);
    ASSERT_U64_EQ(hash_fnv1_32("a", 1), 0x050c5d7eu);
    ASSERT_U64_EQ(hash_fnv1_32("foobar", 6), 0x31f0b262u);
    ASSERT_U64_EQ(hash_fnv1a64("a", 1), 0xaf63dc4c8601ec8cULL);
    ASSERT_U64_EQ(hash_fnv1a64("foobar", 6), 0x85944171f73967e8ULL);
}

TEST(xxh64_vectors)
{
    const char *s = "Nobody inspects the spammish repetition";
    struct hash_xxh64 h;
    size_t i;

    ASSERT_U64_EQ(hash_xxh64("", 0), 0xef46db3751d8e999ULL);
    ASSERT_U64_EQ(hash_xxh64("a", 1), 0xd24ec4f1a98c6e5bULL);
    ASSERT_U64_EQ(hash_xxh64("abc", 3), 0x44bc2cf5ad770999ULL);
    ASSERT_U64_EQ(hash_xxh64(s, strlen(s)), 0xfbcea83c8a378bf1ULL);
    /* streaming in odd pieces gives the same digest */
    hash_xxh64_init(&h);
    for (i = 0; i < strlen(s); i += 3)
        hash_xxh64_update(&h, s + i, strlen(s) - i < 3 ? strlen(s) - i : 3);
    ASSERT_U64_EQ(hash_xxh64_digest(&h), 0xfbcea83c8a378bf1ULL);
}

TEST(mix64_spreads)
{
    ASSERT(hash_mix64(1) != hash_mix64(2));
    ASSERT_U64_EQ(hash_mix64(0), 0xe220a8397b1dcdafULL);
}

TEST_MAIN(TEST_ENTRY(fnv_vectors), TEST_ENTRY(xxh64_vectors), TEST_ENTRY(mix64_spreads))
