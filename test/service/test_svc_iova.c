/* SPDX-License-Identifier: BSD-3-Clause
 * The IOVA allocator on its own (no unit): magazine hit rate, no reuse
 * before the covering invalidation completed, guard pages, exhaustion,
 * partial-unmap detection, and two lcores hammering one allocator.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_launch.h>
#include <rte_memory.h>
#include <rte_lcore.h>

#include "uvtd_test.h"
#include "uvtd_eal.h"
#include "uvtd_iova.h"

#define PG 4096ull
/* REQUIRE evaluates its condition twice: keep side effects out of it. */
#define OK(expr)                                                             \
	do {                                                                 \
		int rc_ = (expr);                                            \
		REQUIRE(rc_ == 0, "%s returned %d", #expr, rc_);             \
	} while (0)
#define MiB (1ull << 20)
#define GiB (1ull << 30)

static struct uvtd_iova *mk(uint64_t base, uint64_t size, bool guard)
{
	struct uvtd_iova_conf c = { .base = base, .size = size, .guard = guard,
				    .socket = SOCKET_ID_ANY };
	struct uvtd_iova *a = NULL;
	int rc = uvtd_iova_create(&c, &a);

	if (rc)
		fprintf(stderr, "uvtd_iova_create: %d\n", rc);
	return a;
}

static void test_bad_conf(void)
{
	struct uvtd_iova_conf c = { .base = 0x1001, .size = GiB };
	struct uvtd_iova *a = NULL;

	CHECK_EQ(uvtd_iova_create(&c, &a), -EINVAL);
	c.base = 0x1000;
	c.size = 0;
	CHECK_EQ(uvtd_iova_create(&c, &a), -EINVAL);
	c.base = UINT64_MAX - 0xfff;
	c.size = 2 * PG;
	CHECK_EQ(uvtd_iova_create(&c, &a), -EINVAL);
	c.base = GiB;
	c.size = GiB;
	c.mag_size = UVTD_IOVA_MAG_MAX + 1;     /* magazines beyond reason */
	CHECK_EQ(uvtd_iova_create(&c, &a), -EINVAL);
	CHECK(a == NULL, "no allocator on error");
}

/* Alloc, map, claim, free in a loop: after the first magazine the lcore
 * never visits the depot. */
static void test_hit_rate(void)
{
	struct uvtd_iova *a = mk(GiB, 4 * GiB, false);
	struct uvtd_iova_cache *c;
	struct uvtd_iova_stats s;
	uint64_t iova[32];

	REQUIRE(a, "allocator");
	c = uvtd_iova_cache_create(a);
	REQUIRE(c, "cache");
	for (int round = 0; round < 10000; round++) {
		for (int i = 0; i < 32; i++) {
			OK(uvtd_iova_alloc(a, c, PG, &iova[i]));
			uvtd_iova_map_done(a, iova[i], PG);
		}
		for (int i = 0; i < 32; i++) {
			OK(uvtd_iova_claim(a, iova[i], PG));
			uvtd_iova_free(a, c, iova[i], PG);
		}
	}
	uvtd_iova_stats_get(a, &s);
	CHECK(s.hit_rate > 0.999, "hit rate %.5f (hits %" PRIu64 " misses %"
	      PRIu64 ")", s.hit_rate, s.hits, s.misses);
	CHECK_EQ(s.global_allocs, 1);
	CHECK_EQ(s.reuse_violations, 0);
	CHECK_EQ(s.mappings, 0);
	uvtd_iova_cache_destroy(a, c);
	uvtd_iova_destroy(a);
}

/* Depot visits (misses after warm-up) per round of n allocs then n frees,
 * the pattern of a lazy flush of n entries on one lcore. */
static uint64_t flush_rounds_misses(unsigned int flush_batch, unsigned int n)
{
	struct uvtd_iova_conf conf = { .base = GiB, .size = 4 * GiB,
				       .flush_batch = flush_batch,
				       .socket = SOCKET_ID_ANY };
	struct uvtd_iova *a = NULL;
	struct uvtd_iova_cache *c;
	struct uvtd_iova_stats s;
	static uint64_t iova[1024];
	uint64_t warm = 0;

	if (uvtd_iova_create(&conf, &a) || (c = uvtd_iova_cache_create(a)) == NULL) {
		CHECK(0, "allocator with flush_batch %u", flush_batch);
		uvtd_iova_destroy(a);
		return UINT64_MAX;
	}
	for (int round = 0; round < 100; round++) {
		if (round == 10) {
			uvtd_iova_stats_get(a, &s);
			warm = s.misses;
		}
		for (unsigned int i = 0; i < n; i++) {
			if (uvtd_iova_alloc(a, c, PG, &iova[i]))
				goto fail;
			uvtd_iova_map_done(a, iova[i], PG);
		}
		for (unsigned int i = 0; i < n; i++) {
			if (uvtd_iova_claim(a, iova[i], PG))
				goto fail;
			uvtd_iova_free(a, c, iova[i], PG);
		}
	}
	uvtd_iova_stats_get(a, &s);
	CHECK_EQ(s.reuse_violations, 0);
	uvtd_iova_cache_destroy(a, c);
	uvtd_iova_destroy(a);
	return s.misses - warm;
fail:
	CHECK(0, "alloc or claim failed (flush_batch %u, n %u)", flush_batch, n);
	uvtd_iova_cache_destroy(a, c);
	uvtd_iova_destroy(a);
	return UINT64_MAX;
}

/* A lazy flush frees its whole queue at once: magazines sized by
 * flush_batch keep those IOVAs in the lcore's cache, so a steady lazy
 * stream never takes the depot's lock (which two lcores would hand back
 * and forth). The default-sized magazines are the planted bug: the same
 * stream then visits the depot every round, which shows the check can
 * fail. */
static void test_flush_batch(void)
{
	uint64_t sized = flush_rounds_misses(256, 256);
	uint64_t dflt = flush_rounds_misses(0, 256);

	CHECK_EQ(sized, 0);
	CHECK(dflt >= 90, "default magazines: %" PRIu64 " depot visits in 90 "
	      "rounds of 256 (the check must see them)", dflt);
	/* A burst-sized stream fits either way. */
	CHECK_EQ(flush_rounds_misses(0, 32), 0);
}

/* Caches come and go with their lcores (uvtd_thread_unregister destroys
 * them): each destroy packs its blocks into the depot, leaving at most one
 * partly filled magazine on top of the full stack, which the next deposit
 * of another lcore buries. The depot holds ceil(nblocks / mag_size) + 1
 * magazines, enough only if at most one magazine of the full stack is
 * partly filled; a take-back that looks at the top alone starts a new
 * partial magazine at every such destroy, until a deposit finds no empty
 * magazine and indexes the empty stack at -1. 256 KiB blocks (class 6) of
 * a 4 GiB window: 1024 blocks, magazines of 64, 17 in the depot. */
static void test_cache_churn(void)
{
	const uint64_t len = 64 * PG;
	struct uvtd_iova *a = mk(GiB, 4 * GiB, false);
	struct uvtd_iova_cache *l;
	struct uvtd_iova_stats s;
	static uint64_t iova[1024];
	unsigned int nb = 0, next = 0;

	REQUIRE(a, "allocator");
	l = uvtd_iova_cache_create(a);
	REQUIRE(l, "cache");
	/* The long-lived lcore takes the whole class. */
	for (nb = 0; nb < RTE_DIM(iova); nb++) {
		OK(uvtd_iova_alloc(a, l, len, &iova[nb]));
		uvtd_iova_map_done(a, iova[nb], len);
	}
	uvtd_iova_stats_get(a, &s);
	CHECK_EQ(s.large_allocs, 0);
	for (int round = 0; round < 12; round++) {
		/* A short-lived lcore frees one block and goes away... */
		struct uvtd_iova_cache *t = uvtd_iova_cache_create(a);

		REQUIRE(t, "cache");
		OK(uvtd_iova_claim(a, iova[next], len));
		uvtd_iova_free(a, t, iova[next++], len);
		uvtd_iova_cache_destroy(a, t);
		/* ...and the long-lived one deposits a full magazine. */
		for (int i = 0; i < (round ? 64 : 129); i++) {
			OK(uvtd_iova_claim(a, iova[next], len));
			uvtd_iova_free(a, l, iova[next++], len);
		}
	}
	while (next < nb) {
		OK(uvtd_iova_claim(a, iova[next], len));
		uvtd_iova_free(a, l, iova[next++], len);
	}
	uvtd_iova_cache_destroy(a, l);
	/* Every block came back: a new lcore gets the whole class again. */
	l = uvtd_iova_cache_create(a);
	REQUIRE(l, "cache");
	for (unsigned int i = 0; i < nb; i++)
		OK(uvtd_iova_alloc(a, l, len, &iova[i]));
	uvtd_iova_stats_get(a, &s);
	CHECK_EQ(s.large_allocs, 0);
	CHECK_EQ(s.reuse_violations, 0);
	uvtd_iova_cache_destroy(a, l);
	uvtd_iova_destroy(a);
}

/* Sizes: natural alignment per class, large ones from the large region,
 * internal fragmentation reported. */
static void test_sizes_alignment(void)
{
	struct uvtd_iova *a = mk(GiB, 4 * GiB, false);
	struct uvtd_iova_cache *c;
	struct uvtd_iova_stats s;
	uint64_t iova;

	REQUIRE(a, "allocator");
	c = uvtd_iova_cache_create(a);
	for (uint64_t np = 1; np <= 64; np++) {
		uint64_t blk = PG;

		while (blk < np * PG)
			blk <<= 1;
		OK(uvtd_iova_alloc(a, c, np * PG, &iova));
		uvtd_iova_stats_get(a, &s);
		CHECK_EQ(s.large_allocs, 0);
		CHECK(iova % blk == 0, "%" PRIu64 " pages at 0x%" PRIx64 " not "
		      "aligned to 0x%" PRIx64, np, iova, blk);
		CHECK(iova >= GiB && iova + np * PG <= 5 * GiB, "inside window");
		uvtd_iova_map_done(a, iova, np * PG);
	}
	OK(uvtd_iova_alloc(a, c, 4 * MiB, &iova));
	CHECK(iova % (2 * MiB) == 0, "large 2 MiB aligned: 0x%" PRIx64, iova);
	uvtd_iova_map_done(a, iova, 4 * MiB);
	uvtd_iova_stats_get(a, &s);
	CHECK_EQ(s.mappings, 65);
	CHECK_EQ(s.large_allocs, 1);
	CHECK(s.fragmentation > 0.0 && s.fragmentation < 0.5,
	      "fragmentation %.3f", s.fragmentation);
	/* Large: partial and exact claims. */
	CHECK_EQ(uvtd_iova_claim(a, iova + PG, PG), -EINVAL);
	CHECK_EQ(uvtd_iova_claim(a, iova, 2 * MiB), -EINVAL);
	CHECK_EQ(uvtd_iova_claim(a, iova, 4 * MiB), 0);
	CHECK(uvtd_iova_is_pending(a, iova), "large pending");
	uvtd_iova_free(a, c, iova, 4 * MiB);
	CHECK(!uvtd_iova_is_pending(a, iova), "large freed");
	uvtd_iova_cache_destroy(a, c);
	uvtd_iova_destroy(a);
}

/* The state machine is the mapping record: what the service's unmap
 * validation relies on. */
static void test_claim_rules(void)
{
	struct uvtd_iova *a = mk(GiB, 4 * GiB, false);
	struct uvtd_iova_cache *c;
	uint64_t iova, other;

	REQUIRE(a, "allocator");
	c = uvtd_iova_cache_create(a);
	OK(uvtd_iova_alloc(a, c, 3 * PG, &iova));
	/* Reserved, not mapped yet. */
	CHECK_EQ(uvtd_iova_claim(a, iova, 3 * PG), -ENOENT);
	uvtd_iova_map_done(a, iova, 3 * PG);
	CHECK_EQ(uvtd_iova_claim(a, iova, PG), -EINVAL);        /* partial */
	CHECK_EQ(uvtd_iova_claim(a, iova + PG, PG), -EINVAL);   /* inside */
	CHECK_EQ(uvtd_iova_claim(a, iova, 4 * PG), -EINVAL);    /* longer */
	CHECK_EQ(uvtd_iova_claim(a, iova + 3 * PG, PG), -ENOENT); /* past */
	CHECK_EQ(uvtd_iova_claim(a, iova, 3 * PG), 0);
	CHECK_EQ(uvtd_iova_claim(a, iova, 3 * PG), -ENOENT);    /* twice */
	uvtd_iova_unclaim(a, iova, 3 * PG);
	CHECK_EQ(uvtd_iova_claim(a, iova, 3 * PG), 0);
	CHECK(uvtd_iova_is_pending(a, iova), "pending");
	/* Pending: nothing hands it out. */
	for (int i = 0; i < 1000; i++) {
		OK(uvtd_iova_alloc(a, c, 3 * PG, &other));
		CHECK(other != iova, "pending IOVA handed out");
		uvtd_iova_map_failed(a, c, other, 3 * PG);
	}
	uvtd_iova_free(a, c, iova, 3 * PG);
	CHECK(!uvtd_iova_is_pending(a, iova), "freed");
	/* Outside the window entirely. */
	CHECK_EQ(uvtd_iova_claim(a, 0x1000, PG), -ENOENT);
	uvtd_iova_cache_destroy(a, c);
	uvtd_iova_destroy(a);
}

/* Guard pages: a one-page mapping takes a two-page block, the page after
 * it belongs to no mapping. */
static void test_guard(void)
{
	struct uvtd_iova *a = mk(GiB, 4 * GiB, true);
	struct uvtd_iova_cache *c;
	uint64_t x, y;

	REQUIRE(a, "allocator");
	c = uvtd_iova_cache_create(a);
	OK(uvtd_iova_alloc(a, c, PG, &x));
	OK(uvtd_iova_alloc(a, c, PG, &y));
	CHECK(x % (2 * PG) == 0 && y % (2 * PG) == 0, "2-page blocks");
	CHECK(x + PG != y && y + PG != x, "a guard page between 0x%" PRIx64
	      " and 0x%" PRIx64, x, y);
	uvtd_iova_map_done(a, x, PG);
	CHECK_EQ(uvtd_iova_claim(a, x + PG, PG), -ENOENT);
	/* A 64-page mapping does not fit a 64-page block with its guard. */
	OK(uvtd_iova_alloc(a, c, 64 * PG, &x));
	uvtd_iova_map_done(a, x, 64 * PG);
	OK(uvtd_iova_alloc(a, c, 64 * PG, &y));
	CHECK(y >= x + 65 * PG || x >= y + 65 * PG, "guard after 64 pages");
	uvtd_iova_map_failed(a, c, y, 64 * PG);
	uvtd_iova_cache_destroy(a, c);
	uvtd_iova_destroy(a);
}

/* A small window: everything is handed out, then -ENOMEM, then freeing one
 * makes one allocation possible again. */
static void test_exhaustion(void)
{
	struct uvtd_iova *a = mk(GiB, 16 * MiB, false);
	struct uvtd_iova_cache *c;
	struct uvtd_iova_stats s;
	static uint64_t got[4096 + 16];
	unsigned int n = 0;
	uint64_t x;
	int rc;

	REQUIRE(a, "allocator");
	c = uvtd_iova_cache_create(a);
	while ((rc = uvtd_iova_alloc(a, c, PG, &x)) == 0 && n < RTE_DIM(got)) {
		CHECK(x >= GiB && x < GiB + 16 * MiB, "inside window");
		uvtd_iova_map_done(a, x, PG);
		got[n++] = x;
	}
	CHECK_EQ(rc, -ENOMEM);
	/* Every block of the 4 KiB class (a sixteenth of the window: 1 MiB)
	 * and every page of the large region (what the seven class regions
	 * leave: 16 - 7 = 9 MiB). The other classes' regions stay theirs:
	 * the price of O(1), lock-free unmap validation. */
	CHECK_EQ(n, (1 * MiB + 9 * MiB) / PG);
	uvtd_iova_stats_get(a, &s);
	CHECK_EQ(s.enomem, 1);
	CHECK_EQ(uvtd_iova_alloc(a, c, PG, &x), -ENOMEM);
	OK(uvtd_iova_claim(a, got[7], PG));
	/* Pending is not free. */
	CHECK_EQ(uvtd_iova_alloc(a, c, PG, &x), -ENOMEM);
	uvtd_iova_free(a, c, got[7], PG);
	CHECK_EQ(uvtd_iova_alloc(a, c, PG, &x), 0);
	CHECK_EQ(x, got[7]);
	uvtd_iova_cache_destroy(a, c);
	uvtd_iova_destroy(a);
}

/* Two lcores allocate and free concurrently (lcore 1 frees some of what
 * lcore 0 allocated through a shared array, as RX/TX completion does):
 * no block is ever held by two owners. */
#define SLOTS 2048
static struct uvtd_iova *conc_a;
static uint64_t slots[SLOTS];          /* [A] 0: empty, else iova|class */
static uint8_t owner_map[1 << 20];     /* by page index: held or not */
static volatile int conc_errors;

static int conc_worker(void *arg)
{
	struct uvtd_iova_cache *c = arg;
	uint64_t rnd = 0x9E3779B97F4A7C15ull * (rte_lcore_id() + 1);

	for (int it = 0; it < 300000; it++) {
		unsigned int s;
		uint64_t v, np;

		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		s = (unsigned int)(rnd % SLOTS);
		v = __atomic_exchange_n(&slots[s], 0, __ATOMIC_ACQ_REL);
		if (v) {
			uint64_t iova = v & ~0xfffull, len = (v & 0xfff) * PG;
			uint64_t idx = (iova - GiB) / PG;

			if (uvtd_iova_claim(conc_a, iova, len) != 0)
				conc_errors++;
			if (__atomic_exchange_n(&owner_map[idx], 0,
						__ATOMIC_ACQ_REL) != 1)
				conc_errors++;
			uvtd_iova_free(conc_a, c, iova, len);
		} else {
			uint64_t iova;

			np = 1 + (rnd >> 32) % 8;
			if (uvtd_iova_alloc(conc_a, c, np * PG, &iova) != 0) {
				conc_errors++;
				continue;
			}
			if (__atomic_exchange_n(&owner_map[(iova - GiB) / PG], 1,
						__ATOMIC_ACQ_REL) != 0)
				conc_errors++;
			uvtd_iova_map_done(conc_a, iova, np * PG);
			v = iova | np;
			uint64_t old = 0;

			if (!__atomic_compare_exchange_n(&slots[s], &old, v, false,
							 __ATOMIC_ACQ_REL,
							 __ATOMIC_RELAXED)) {
				/* Slot got refilled meanwhile: give it back. */
				__atomic_store_n(&owner_map[(iova - GiB) / PG], 0,
						 __ATOMIC_RELEASE);
				if (uvtd_iova_claim(conc_a, iova, np * PG) != 0)
					conc_errors++;
				uvtd_iova_free(conc_a, c, iova, np * PG);
			}
		}
	}
	return 0;
}

static void test_two_lcores(void)
{
	struct uvtd_iova_cache *c0, *c1;
	struct uvtd_iova_stats s;
	unsigned int w = rte_get_next_lcore(-1, 1, 0);

	if (w >= RTE_MAX_LCORE)
		SKIP_TEST("needs two lcores");
	conc_a = mk(GiB, 4 * GiB, false);
	REQUIRE(conc_a, "allocator");
	c0 = uvtd_iova_cache_create(conc_a);
	c1 = uvtd_iova_cache_create(conc_a);
	OK(uvtd_test_launch(conc_worker, c1, w));
	conc_worker(c0);
	uvtd_test_join(w);
	CHECK_EQ(conc_errors, 0);
	for (unsigned int i = 0; i < SLOTS; i++)
		if (slots[i]) {
			uint64_t iova = slots[i] & ~0xfffull;

			CHECK_EQ(uvtd_iova_claim(conc_a, iova,
				 (slots[i] & 0xfff) * PG), 0);
			uvtd_iova_free(conc_a, c0, iova, (slots[i] & 0xfff) * PG);
		}
	uvtd_iova_stats_get(conc_a, &s);
	CHECK_EQ(s.reuse_violations, 0);
	CHECK_EQ(s.mappings, 0);
	CHECK(s.hit_rate > 0.95, "hit rate %.4f", s.hit_rate);
	uvtd_iova_cache_destroy(conc_a, c0);
	uvtd_iova_cache_destroy(conc_a, c1);
	uvtd_iova_destroy(conc_a);
}

int main(int argc, char **argv)
{
	(void)argc;
	if (uvtd_test_eal_init(argv[0], UVTD_EAL_VA) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	RUN(test_bad_conf);
	RUN(test_hit_rate);
	RUN(test_flush_batch);
	RUN(test_cache_churn);
	RUN(test_sizes_alignment);
	RUN(test_claim_rules);
	RUN(test_guard);
	RUN(test_exhaustion);
	RUN(test_two_lcores);
	return TEST_SUMMARY();
}
