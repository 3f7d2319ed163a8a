/* SPDX-License-Identifier: BSD-3-Clause
 * Every policy's guarantee on the VT-d driver and the emulated unit, judged
 * by the emulator's stale-translation checker (a translation served from a
 * cache that a fresh walk contradicts):
 *   - strict, batched: zero stale uses, ever, under random map/unmap/DMA
 *     streams on two lcores; an unmapped IOVA faults as soon as the unmap
 *     (or its burst) returned;
 *   - lazy, auto: no stale use of live mappings (an IOVA is reused only
 *     after the invalidation covering its unmap completed); an unmapped IOVA
 *     faults after uvtd_flush() and after the time bound (uvtd_poll());
 *   - the planted policy bug (unmaps skip their invalidation) is caught.
 * Two units: "qemu-cm-off" (no caching mode) and "qemu-cm-on" (caching mode: the
 * unit also caches not-present entries, so a missing map-side flush shows).
 */
#include <errno.h>
#include <unistd.h>

#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memzone.h>
#include <rte_errno.h>
#include <rte_service.h>

#include "uvtd_test.h"
#include "uvtd_eal.h"
#include "uvtd.h"
#include "uvtd_internal.h"
#include "uvtd_vtd_ops.h"
#include "vtdemu.h"

#define PG 4096ull
#define OK(expr)                                                             \
	do {                                                                 \
		int rc_ = (expr);                                            \
		REQUIRE(rc_ >= 0, "%s returned %d", #expr, rc_);             \
	} while (0)

#define NUNITS 2
static const char *const unit_names[NUNITS] = { "qemu-cm-off", "qemu-cm-on" };
static int devs[NUNITS][2];          /* two requesters per unit */
static uint16_t rids[2] = { 0x08, 0x10 };
static uint8_t *mem;                 /* DMA targets, DPDK memory */
static const struct rte_memzone *mem_mz;
#define MEM_PAGES 256              /* 1 MiB: inside one hugepage in PA mode */

static uint64_t pa_of(unsigned int page)
{
	/* One IOVA-contiguous memzone: with IOVA as PA, rte_malloc memory
	 * spanning two hugepages is not contiguous, and a DMA through a
	 * mapping computed as if it were would land in someone else's
	 * memory. */
	return mem_mz->iova + (uint64_t)page * PG;
}

static int mkdom(enum uvtd_policy p, unsigned int unit)
{
	struct uvtd_domain_conf c;
	int d;

	uvtd_domain_conf_init(&c);
	c.policy = p;
	c.unit = unit;
	d = uvtd_domain_create(&c);
	if (d < 0)
		return d;
	for (int i = 0; i < 2; i++)
		if (uvtd_attach(d, devs[unit][i]) != 0)
			return -1;
	return d;
}

static void rmdom(int d, unsigned int unit)
{
	for (int i = 0; i < 2; i++)
		uvtd_detach(d, devs[unit][i]);
	CHECK_EQ(uvtd_domain_destroy(d), 0);
}

static int64_t dma_write(unsigned int unit, int req, uint64_t iova,
			 uint32_t value)
{
	return vtdemu_dma_write(uvtd_vtd_emu(unit), rids[req], VTDEMU_NO_PASID,
				iova, &value, sizeof(value), NULL);
}

/* ---- random streams on two lcores ---- */

#define SLOTS 128
struct stream {
	int dom;
	unsigned int unit;
	bool burst;
	/* Strict and batched: an IOVA faults as soon as its unmap (or its
	 * burst) returned. It cannot have been mapped again meanwhile: it
	 * went back to this lcore's magazine, which holds more than the
	 * lcore's SLOTS and so never hands blocks to the other lcore. */
	bool faults_on_return;
	uint64_t seed;
	int errors, fault_errors;
	uint64_t dmas;
};
struct slot {
	uint64_t iova, len;
	unsigned int page;
};
static struct slot slots[2][SLOTS];

static int stream_worker(void *arg)
{
	struct stream *s = arg;
	unsigned int me = rte_lcore_id() == rte_get_main_lcore() ? 0 : 1;
	struct slot *sl = slots[me];
	uint64_t r = s->seed;
	struct uvtd_unmap_req ureq[16];
	unsigned int nu = 0;

	for (int it = 0; it < 6000; it++) {
		unsigned int k;

		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		k = (unsigned int)(r % SLOTS);
		if (sl[k].len) {
			uint64_t iova = sl[k].iova;
			uint32_t v = (uint32_t)r;

			if ((r >> 40) & 1) {
				/* DMA into a live mapping: it lands in the
				 * mapping's page, through any cache. */
				int req = (int)((r >> 41) & 1);

				if (dma_write(s->unit, req, iova, v) != 4 ||
				    *(volatile uint32_t *)(mem + sl[k].page * PG) != v)
					s->errors++;
				s->dmas++;
				continue;
			}
			if (s->burst) {
				ureq[nu++] = (struct uvtd_unmap_req){ iova, sl[k].len };
				sl[k].len = 0;
				if (nu == RTE_DIM(ureq)) {
					if (uvtd_unmap_burst(s->dom, ureq, nu) != (int)nu)
						s->errors++;
					for (unsigned int j = 0;
					     s->faults_on_return && j < nu; j++)
						if (dma_write(s->unit, 0, ureq[j].iova,
							      v) != -EFAULT)
							s->errors++;
					nu = 0;
				}
				continue;
			}
			if (uvtd_unmap(s->dom, iova, sl[k].len) != 0)
				s->errors++;
			else if (s->faults_on_return &&
				 dma_write(s->unit, 0, iova, v) != -EFAULT)
				s->errors++;
			sl[k].len = 0;
		} else {
			/* Each lcore owns half of the pages; slot k maps page
			 * group k % 32, 1 to 4 pages long (the first is
			 * written; two slots may share a group: the lcore
			 * checks each DMA right after it). */
			unsigned int page = me * (MEM_PAGES / 2) + (k % 32) * 4;
			uint64_t np = 1 + ((r >> 20) % 4), iova;

			if (uvtd_map(s->dom, pa_of(page), np * PG, UVTD_PERM_RW,
				     &iova) != 0) {
				s->errors++;
				continue;
			}
			sl[k] = (struct slot){ iova, np * PG, page };
		}
		if ((it & 255) == 0)
			uvtd_poll();
	}
	if (nu && uvtd_unmap_burst(s->dom, ureq, nu) != (int)nu)
		s->errors++;
	return 0;
}

/* Unmaps what the streams left, then checks that every IOVA they ever
 * used faults now. */
/* With plant, the same streams run with the planted bug (unmaps that skip
 * their invalidation, uvtd_debug_skip_unmap_invalidation): at least one of
 * the checks must then fail, which shows the streams can catch it. */
static void streams(enum uvtd_policy p, unsigned int unit, bool burst,
		    bool plant)
{
	unsigned int w = rte_get_next_lcore(-1, 1, 0);
	struct vtdemu *emu = uvtd_vtd_emu(unit);
	struct stream s0, s1;
	struct vtdemu_stats st;
	uint64_t stale_live, reachable = 0;
	int d = mkdom(p, unit);

	REQUIRE(d >= 0, "domain");
	REQUIRE(emu, "emulator");
	vtdemu_stale_reset(emu);
	if (plant)
		OK(uvtd_debug_skip_unmap_invalidation(d, true));
	memset(slots, 0, sizeof(slots));
	s0 = (struct stream){ .dom = d, .unit = unit, .burst = burst,
			      .faults_on_return = p == UVTD_POLICY_STRICT ||
						  p == UVTD_POLICY_BATCHED,
			      .seed = 0x1234567 + unit };
	s1 = s0;
	s1.seed = 0x7654321 + unit;
	if (w < RTE_MAX_LCORE)
		uvtd_test_launch(stream_worker, &s1, w);
	stream_worker(&s0);
	if (w < RTE_MAX_LCORE)
		uvtd_test_join(w);
	CHECK(s0.dmas + s1.dmas > 1000, "DMAs done: %" PRIu64, s0.dmas + s1.dmas);
	/* Live mappings only were used: never stale, whatever the policy
	 * (an IOVA is reused only after its invalidation completed). */
	stale_live = vtdemu_stale_count(emu);
	for (int l = 0; l < 2; l++)
		for (int k = 0; k < SLOTS; k++)
			if (slots[l][k].len) {
				CHECK_EQ(uvtd_unmap(d, slots[l][k].iova,
						    slots[l][k].len), 0);
			}
	if (uvtd_domain_policy(d) == UVTD_POLICY_LAZY) {
		/* Lazy: past the bound (2 ms here) and one uvtd_poll(), which
		 * flushes for the idle lcore too, nothing is stale any more. */
		usleep(6000);
		uvtd_poll();
	}
	/* Everything unmapped and invalidated (for lazy, by the bound): a
	 * DMA to any IOVA the streams used must fault, from no cache. */
	for (int l = 0; l < 2; l++)
		for (int k = 0; k < SLOTS; k++)
			if (slots[l][k].iova &&
			    dma_write(unit, 0, slots[l][k].iova, 1) != -EFAULT)
				reachable++;
	if (uvtd_domain_policy(d) == UVTD_POLICY_LAZY)
		OK(uvtd_flush(d));
	if (plant) {
		CHECK(s0.errors + s1.errors > 0 || stale_live > 0 ||
		      reachable > 0, "%s, unit %u: the planted bug went "
		      "unseen", uvtd_policy_name(p), unit);
		printf("# planted, %s unit %u: %d wrong DMAs, %" PRIu64
		       " stale uses, %" PRIu64 " unmapped IOVAs reachable\n",
		       uvtd_policy_name(p), unit, s0.errors + s1.errors,
		       stale_live, reachable);
		OK(uvtd_debug_skip_unmap_invalidation(d, false));
		OK(uvtd_flush(d));
	} else {
		CHECK_EQ(s0.errors + s1.errors, 0);
		CHECK_EQ(stale_live, 0);
		CHECK_EQ(reachable, 0);
		CHECK_EQ(vtdemu_stale_count(emu), 0);
	}
	vtdemu_stale_reset(emu);
	vtdemu_stats_get(emu, &st);
	CHECK_EQ(st.invalid_descs, 0);
	rmdom(d, unit);
}

static void run_streams(enum uvtd_policy p, unsigned int unit, bool burst)
{
	streams(p, unit, burst, false);
}

static void test_streams_strict_server(void)   { run_streams(UVTD_POLICY_STRICT, 0, false); }
static void test_streams_strict_cm(void)       { run_streams(UVTD_POLICY_STRICT, 1, false); }
static void test_streams_batched_server(void)  { run_streams(UVTD_POLICY_BATCHED, 0, true); }
static void test_streams_batched_cm(void)      { run_streams(UVTD_POLICY_BATCHED, 1, true); }
static void test_streams_lazy_server(void)     { run_streams(UVTD_POLICY_LAZY, 0, false); }
static void test_streams_lazy_cm(void)         { run_streams(UVTD_POLICY_LAZY, 1, true); }
static void test_streams_auto_server(void)     { run_streams(UVTD_POLICY_AUTO, 0, true); }
static void test_streams_auto_cm(void)         { run_streams(UVTD_POLICY_AUTO, 1, false); }
/* The planted bug under the streams of each policy, single unmaps and
 * bursts, on both units. */
static void test_streams_planted(void)
{
	static const enum uvtd_policy pol[] = {
		UVTD_POLICY_STRICT, UVTD_POLICY_BATCHED, UVTD_POLICY_LAZY,
	};

	for (unsigned int i = 0; i < RTE_DIM(pol); i++)
		for (unsigned int unit = 0; unit < NUNITS; unit++)
			streams(pol[i], unit, (i + unit) % 2 == 1, true);
}

/* Strict and batched: the moment unmap (or the burst) returns, the IOVA
 * faults, though the IOTLB held it a moment before. */
static void check_completion(enum uvtd_policy p, unsigned int unit)
{
	struct vtdemu *emu = uvtd_vtd_emu(unit);
	struct uvtd_unmap_req u[32];
	int d = mkdom(p, unit);

	REQUIRE(d >= 0, "domain");
	vtdemu_stale_reset(emu);
	for (int i = 0; i < 32; i++) {
		OK(uvtd_map(d, pa_of((unsigned int)i), PG, UVTD_PERM_RW, &u[i].iova));
		u[i].len = PG;
		CHECK_EQ(dma_write(unit, 0, u[i].iova, 7), 4);   /* cached */
	}
	OK(uvtd_unmap(d, u[0].iova, PG));
	CHECK_EQ(dma_write(unit, 0, u[0].iova, 7), -EFAULT);
	CHECK_EQ(uvtd_unmap_burst(d, &u[1], 31), 31);
	for (int i = 1; i < 32; i++)
		CHECK_EQ(dma_write(unit, 0, u[i].iova, 7), -EFAULT);
	CHECK_EQ(vtdemu_stale_count(emu), 0);
	rmdom(d, unit);
}

static void test_completion_strict(void)
{
	check_completion(UVTD_POLICY_STRICT, 0);
	check_completion(UVTD_POLICY_STRICT, 1);
}

static void test_completion_batched(void)
{
	check_completion(UVTD_POLICY_BATCHED, 0);
	check_completion(UVTD_POLICY_BATCHED, 1);
}

/* Lazy: staleness is allowed inside the bound and gone after it (the
 * bound is 2 ms here, enforced by uvtd_poll()), and gone after a flush. */
static void check_lazy_bound(unsigned int unit, bool by_flush)
{
	struct vtdemu *emu = uvtd_vtd_emu(unit);
	uint64_t iova[8];
	int d = mkdom(UVTD_POLICY_LAZY, unit);

	REQUIRE(d >= 0, "domain");
	for (int i = 0; i < 8; i++) {
		OK(uvtd_map(d, pa_of((unsigned int)i), PG, UVTD_PERM_RW, &iova[i]));
		CHECK_EQ(dma_write(unit, 0, iova[i], 9), 4);
	}
	for (int i = 0; i < 8; i++)
		OK(uvtd_unmap(d, iova[i], PG));
	/* Inside the bound the unit still uses its cached entry: lazy's
	 * allowed staleness, seen by the checker (so the checks below, after
	 * the bound or the flush, have teeth). */
	vtdemu_stale_reset(emu);
	CHECK_EQ(dma_write(unit, 0, iova[0], 9), 4);
	CHECK(vtdemu_stale_count(emu) > 0, "stale inside the bound");
	vtdemu_stale_reset(emu);
	if (by_flush) {
		OK(uvtd_flush(d));
	} else {
		usleep(5000);
		uvtd_poll();
	}
	for (int i = 0; i < 8; i++)
		CHECK_EQ(dma_write(unit, 0, iova[i], 9), -EFAULT);
	CHECK_EQ(vtdemu_stale_count(emu), 0);
	rmdom(d, unit);
}

static void test_lazy_bound_server(void) { check_lazy_bound(0, false); }
static void test_lazy_bound_cm(void)     { check_lazy_bound(1, false); }
static void test_lazy_flush_server(void) { check_lazy_bound(0, true); }
static void test_lazy_flush_cm(void)     { check_lazy_bound(1, true); }

/* Under caching mode a faulting access caches "not present"; a new map
 * there must be invalidated on the map side, or the device keeps
 * faulting. The service does it for CM domains only. */
static void test_map_side_flush(void)
{
	struct uvtd_stats a, b;
	uint64_t iova;
	int d;

	for (unsigned int unit = 0; unit < NUNITS; unit++) {
		struct uvtd_domain_info info;

		d = mkdom(UVTD_POLICY_STRICT, unit);
		REQUIRE(d >= 0, "domain");
		uvtd_domain_info_get(d, &info);
		CHECK_EQ(info.map_flush, unit == 1);
		OK(uvtd_map(d, pa_of(0), PG, UVTD_PERM_RW, &iova));
		OK(uvtd_unmap(d, iova, PG));
		CHECK_EQ(dma_write(unit, 0, iova, 3), -EFAULT); /* caches NP */
		uvtd_stats_get(&b);
		OK(uvtd_map(d, pa_of(1), PG, UVTD_PERM_RW, &iova));
		uvtd_stats_get(&a);
		CHECK_EQ(dma_write(unit, 0, iova, 3), 4);
		/* The map path of a domain without map flush sends nothing. */
		if (unit == 0)
			CHECK_EQ(a.descs - b.descs, 0);
		else
			CHECK(a.descs > b.descs, "map-side invalidation sent");
		OK(uvtd_unmap(d, iova, PG));
		CHECK_EQ(vtdemu_stale_count(uvtd_vtd_emu(unit)), 0);
		rmdom(d, unit);
	}
}

/* The planted bug: an unmap that skips its invalidation. The stale
 * checker must see the device still reaching the old page. */
static void test_planted_bug_caught(void)
{
	for (unsigned int unit = 0; unit < NUNITS; unit++) {
		struct vtdemu *emu = uvtd_vtd_emu(unit);
		uint64_t iova;
		int d = mkdom(UVTD_POLICY_STRICT, unit);

		REQUIRE(d >= 0, "domain");
		vtdemu_stale_reset(emu);
		OK(uvtd_debug_skip_unmap_invalidation(d, true));
		OK(uvtd_map(d, pa_of(5), PG, UVTD_PERM_RW, &iova));
		CHECK_EQ(dma_write(unit, 0, iova, 11), 4);
		OK(uvtd_unmap(d, iova, PG));
		CHECK_EQ(dma_write(unit, 0, iova, 12), 4);   /* through the cache */
		CHECK(vtdemu_stale_count(emu) > 0, "unit %u: bug not caught", unit);
		OK(uvtd_debug_skip_unmap_invalidation(d, false));
		OK(uvtd_flush(d));
		vtdemu_stale_reset(emu);
		rmdom(d, unit);
	}
}

/* Fixed IOVAs (IOVA-as-PA identity maps) and map by virtual address. */
static void test_fixed_and_va(void)
{
	struct vtdemu *emu = uvtd_vtd_emu(0);
	uint64_t pa = pa_of(16), iova;
	int d = mkdom(UVTD_POLICY_BATCHED, 0);

	REQUIRE(d >= 0, "domain");
	OK(uvtd_map_fixed(d, pa, pa, 4 * PG, UVTD_PERM_RW));
	CHECK_EQ(dma_write(0, 1, pa + 2 * PG, 0xabc), 4);
	CHECK_EQ(*(uint32_t *)(mem + 18 * PG), 0xabc);
	OK(uvtd_unmap(d, pa, 4 * PG));
	CHECK_EQ(dma_write(0, 1, pa + 2 * PG, 0xabc), -EFAULT);
	OK(uvtd_map_va(d, mem + 20 * PG, 2 * PG, UVTD_PERM_RW, &iova));
	CHECK_EQ(dma_write(0, 0, iova + PG, 0xdef), 4);
	CHECK_EQ(*(uint32_t *)(mem + 21 * PG), 0xdef);
	OK(uvtd_unmap(d, iova, 2 * PG));
	CHECK_EQ(vtdemu_stale_count(emu), 0);
	rmdom(d, 0);
}

/* Guard pages: a device running off the end of its buffer faults. */
static void test_guard_pages(void)
{
	struct uvtd_domain_conf c;
	uint64_t a, b;
	int d;

	uvtd_domain_conf_init(&c);
	c.policy = UVTD_POLICY_STRICT;
	c.guard = 1;
	d = uvtd_domain_create(&c);
	REQUIRE(d >= 0, "domain");
	OK(uvtd_attach(d, devs[0][0]));
	OK(uvtd_map(d, pa_of(40), PG, UVTD_PERM_RW, &a));
	OK(uvtd_map(d, pa_of(41), PG, UVTD_PERM_RW, &b));
	CHECK_EQ(dma_write(0, 0, a, 1), 4);
	CHECK_EQ(dma_write(0, 0, a + PG, 1), -EFAULT);   /* the guard */
	CHECK(b != a + PG, "the next buffer is not adjacent");
	OK(uvtd_unmap(d, a, PG));
	OK(uvtd_unmap(d, b, PG));
	OK(uvtd_detach(d, devs[0][0]));
	OK(uvtd_domain_destroy(d));
}

/* A window of 8 pages: exhaustion is a counted -ENOMEM rejection, and a
 * burst that runs out half way maps nothing (rolled back, invalidated). */
static void test_exhaustion_and_rollback(void)
{
	struct uvtd_domain_conf c;
	struct uvtd_domain_info info;
	struct uvtd_map_req m[6];
	struct uvtd_stats s0, s1;
	uint64_t iova[8];
	int d;

	uvtd_domain_conf_init(&c);
	c.policy = UVTD_POLICY_BATCHED;
	c.unit = 1;
	c.iova_base = 1ull << 30;
	c.iova_size = 8 * PG;
	d = uvtd_domain_create(&c);
	REQUIRE(d >= 0, "domain");
	OK(uvtd_attach(d, devs[1][0]));
	for (int i = 0; i < 8; i++)
		OK(uvtd_map(d, pa_of((unsigned int)i), PG, UVTD_PERM_RW, &iova[i]));
	uvtd_stats_get(&s0);
	CHECK_EQ(uvtd_map(d, pa_of(9), PG, UVTD_PERM_RW, &iova[0]), -ENOMEM);
	uvtd_stats_get(&s1);
	CHECK_EQ(s1.rejected - s0.rejected, 1);
	for (int i = 0; i < 5; i++)
		OK(uvtd_unmap(d, iova[i], PG));
	/* 6 requests, 5 free pages: the burst maps nothing. */
	for (int i = 0; i < 6; i++)
		m[i] = (struct uvtd_map_req){ .phys = pa_of(20 + (unsigned int)i),
					      .len = PG, .perm = UVTD_PERM_RW };
	CHECK_EQ(uvtd_map_burst(d, m, 6), -ENOMEM);
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.mappings, 3);
	CHECK_EQ(uvtd_map_burst(d, m, 5), 5);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(dma_write(1, 0, m[i].iova, 5), 4);
	CHECK_EQ(vtdemu_stale_count(uvtd_vtd_emu(1)), 0);
	for (int i = 0; i < 5; i++)
		OK(uvtd_unmap(d, m[i].iova, PG));
	for (int i = 5; i < 8; i++)
		OK(uvtd_unmap(d, iova[i], PG));
	OK(uvtd_detach(d, devs[1][0]));
	OK(uvtd_domain_destroy(d));
}

/* One domain, devices behind both units: every invalidation goes to both,
 * and neither unit serves a stale translation. (The home unit has caching
 * mode, so the domain does the map-side flushes the other unit does not
 * need; the reverse is refused by the driver.) */
static void test_two_units_one_domain(void)
{
	struct uvtd_domain_info info;
	uint64_t iova[16];
	int d = mkdom(UVTD_POLICY_LAZY, 1);

	REQUIRE(d >= 0, "domain");
	OK(uvtd_attach(d, devs[0][0]));
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.nunits, 2);
	for (unsigned int u = 0; u < NUNITS; u++)
		vtdemu_stale_reset(uvtd_vtd_emu(u));
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 16; i++) {
			OK(uvtd_map(d, pa_of((unsigned int)i), PG, UVTD_PERM_RW,
				    &iova[i]));
			CHECK_EQ(dma_write(0, 0, iova[i], 1), 4);
			CHECK_EQ(dma_write(1, 0, iova[i], 1), 4);
		}
		for (int i = 0; i < 16; i++)
			OK(uvtd_unmap(d, iova[i], PG));
	}
	OK(uvtd_flush(d));
	for (int i = 0; i < 16; i++) {
		CHECK_EQ(dma_write(0, 0, iova[i], 1), -EFAULT);
		CHECK_EQ(dma_write(1, 0, iova[i], 1), -EFAULT);
	}
	for (unsigned int u = 0; u < NUNITS; u++)
		CHECK_EQ(vtdemu_stale_count(uvtd_vtd_emu(u)), 0);
	OK(uvtd_detach(d, devs[0][0]));
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.nunits, 1);
	rmdom(d, 1);
}

/* An unmap whose invalidation did not complete (the unit stalled: the
 * wait ran past its bound) must not hand its IOVA out again: the unit may
 * still hold the old translation, and a device using the new mapping would
 * reach the old page. Strict single unmaps and batched bursts alike. */
static void test_failed_wait_keeps_iova(void)
{
	struct vtdemu *emu = uvtd_vtd_emu(0);
	struct vtdemu_injection stall = { .kind = VTDEMU_INJECT_STALL };

	for (int batched = 0; batched < 2; batched++) {
		int d = mkdom(batched ? UVTD_POLICY_BATCHED : UVTD_POLICY_STRICT, 0);
		uint64_t old, fresh;
		uint32_t lvl;
		int rc;

		REQUIRE(d >= 0, "domain");
		OK(uvtd_map(d, pa_of(40), PG, UVTD_PERM_RW, &old));
		CHECK_EQ(dma_write(0, 0, old, 1), 4);            /* cached */
		REQUIRE(vtdemu_inject(emu, &stall) == 0, "inject");
		lvl = rte_log_get_level(uvtd_logtype);
		rte_log_set_level(uvtd_logtype, RTE_LOG_EMERG);
		if (batched) {
			struct uvtd_unmap_req r = { old, PG };

			rc = uvtd_unmap_burst(d, &r, 1);
		} else {
			rc = uvtd_unmap(d, old, PG);
		}
		rte_log_set_level(uvtd_logtype, lvl);
		CHECK(rc < 0, "%s unmap with a stalled unit returned %d",
		      batched ? "batched" : "strict", rc);
		/* The next map of the same size must not get the IOVA whose
		 * invalidation is unproven (the magazine would hand it back
		 * first). */
		OK(uvtd_map(d, pa_of(41), PG, UVTD_PERM_RW, &fresh));
		CHECK(fresh != old, "%s: IOVA 0x%" PRIx64 " reused after its "
		      "invalidation failed", batched ? "batched" : "strict", old);
		vtdemu_inject_clear(emu);
		OK(uvtd_unmap(d, fresh, PG));
		OK(uvtd_flush(d));
		vtdemu_stale_reset(emu);
		rmdom(d, 0);
	}

	/* The same on the map side (caching mode: a map-side invalidation
	 * whose wait fails leaves the IOVA unproven too). */
	{
		struct vtdemu *cm = uvtd_vtd_emu(1);
		int d = mkdom(UVTD_POLICY_STRICT, 1);
		uint64_t first, again = 0;
		uint32_t lvl;
		int rc;

		REQUIRE(d >= 0, "domain");
		OK(uvtd_map(d, pa_of(42), PG, UVTD_PERM_RW, &first));
		OK(uvtd_unmap(d, first, PG));      /* first is the next IOVA */
		REQUIRE(vtdemu_inject(cm, &stall) == 0, "inject");
		lvl = rte_log_get_level(uvtd_logtype);
		rte_log_set_level(uvtd_logtype, RTE_LOG_EMERG);
		rc = uvtd_map(d, pa_of(43), PG, UVTD_PERM_RW, &again);
		rte_log_set_level(uvtd_logtype, lvl);
		CHECK(rc < 0, "map with a stalled CM unit returned %d", rc);
		vtdemu_inject_clear(cm);
		OK(uvtd_map(d, pa_of(44), PG, UVTD_PERM_RW, &again));
		CHECK(again != first, "map side: IOVA 0x%" PRIx64 " reused "
		      "after its map-side invalidation failed", first);
		OK(uvtd_unmap(d, again, PG));
		vtdemu_stale_reset(cm);
		rmdom(d, 1);
	}
}

/* Map-side invalidations that fail (caching mode, a stalled unit) inside a
 * burst, a fixed map and a burst's roll-back: the entries are cleared again
 * (a device faults on every IOVA of the failed call) and no IOVA whose
 * invalidation is unproven goes back into circulation. */
static void test_failed_map_flush_clears(void)
{
	struct vtdemu *cm = uvtd_vtd_emu(1);
	struct vtdemu_injection stall = { .kind = VTDEMU_INJECT_STALL };
	const uint64_t fixed = 1ull << 20;       /* below the IOVA window */
	struct uvtd_map_req m[4], m2[4];
	struct uvtd_unmap_req u[4];
	struct uvtd_domain_conf c;
	uint64_t iova;
	uint32_t lvl = rte_log_get_level(uvtd_logtype);
	int d = mkdom(UVTD_POLICY_BATCHED, 1), rc, rc2, got;

	REQUIRE(d >= 0, "domain");
	for (int i = 0; i < 4; i++) {
		m[i] = (struct uvtd_map_req){ .phys = pa_of(50 + (unsigned)i),
					      .len = PG, .perm = UVTD_PERM_RW };
		m2[i] = m[i];
	}
	REQUIRE(vtdemu_inject(cm, &stall) == 0, "inject");
	rte_log_set_level(uvtd_logtype, RTE_LOG_EMERG);
	rc = uvtd_map_burst(d, m, 4);
	rc2 = uvtd_map_fixed(d, fixed, pa_of(60), PG, UVTD_PERM_RW);
	vtdemu_inject_clear(cm);
	CHECK(rc < 0, "map_burst with a stalled CM unit returned %d", rc);
	CHECK(rc2 < 0, "map_fixed with a stalled CM unit returned %d", rc2);
	for (int i = 0; i < 4; i++) {
		CHECK(dma_write(1, 0, m[i].iova, 1) == -EFAULT, "burst IOVA "
		      "0x%" PRIx64 " still reachable after the failed map",
		      m[i].iova);
		CHECK_EQ(uvtd_unmap(d, m[i].iova, PG), -ENOENT);
	}
	CHECK(dma_write(1, 0, fixed, 1) == -EFAULT, "fixed IOVA still "
	      "reachable after the failed map");
	CHECK_EQ(uvtd_unmap(d, fixed, PG), -ENOENT);
	CHECK_EQ(uvtd_map_fixed(d, fixed, pa_of(60), PG, UVTD_PERM_RW),
		 -EEXIST);                       /* retired */
	rte_log_set_level(uvtd_logtype, lvl);
	CHECK_EQ(uvtd_map_burst(d, m2, 4), 4);
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < 4; j++)
			CHECK(m2[i].iova != m[j].iova, "IOVA 0x%" PRIx64 " reused "
			      "after its map-side invalidation failed",
			      m2[i].iova);
		u[i] = (struct uvtd_unmap_req){ m2[i].iova, PG };
	}
	CHECK_EQ(uvtd_unmap_burst(d, u, 4), 4);
	/* The retired IOVAs and the retired fixed record are no mappings:
	 * the domain is empty, and its policy may change. */
	{
		struct uvtd_domain_info info;

		OK(uvtd_domain_info_get(d, &info));
		CHECK_EQ(info.mappings, 0);
		CHECK_EQ(uvtd_domain_set_policy(d, UVTD_POLICY_STRICT), 0);
	}
	vtdemu_stale_reset(cm);
	rmdom(d, 1);

	/* The roll-back of a burst that ran out of IOVA space part-way (a
	 * window of 16 pages, a burst of 32): its invalidation fails too, so
	 * the IOVAs it had taken stay out of circulation and the window stays
	 * used up. */
	uvtd_domain_conf_init(&c);
	c.policy = UVTD_POLICY_BATCHED;
	c.unit = 1;
	c.iova_size = 16 * PG;
	c.guard = 0;
	d = uvtd_domain_create(&c);
	REQUIRE(d >= 0, "domain with a 16-page window");
	for (int i = 0; i < 2; i++)
		OK(uvtd_attach(d, devs[1][i]));
	{
		struct uvtd_map_req big[32];

		for (int i = 0; i < 32; i++)
			big[i] = (struct uvtd_map_req){ .phys = pa_of(64 +
					(unsigned)i), .len = PG,
					.perm = UVTD_PERM_RW };
		REQUIRE(vtdemu_inject(cm, &stall) == 0, "inject");
		rte_log_set_level(uvtd_logtype, RTE_LOG_EMERG);
		rc = uvtd_map_burst(d, big, 32);
		vtdemu_inject_clear(cm);
		CHECK_EQ(rc, -ENOMEM);
		for (int i = 0; i < 16; i++)
			CHECK(dma_write(1, 0, big[i].iova, 1) == -EFAULT,
			      "rolled-back IOVA 0x%" PRIx64 " reachable",
			      big[i].iova);
		got = uvtd_map(d, pa_of(100), PG, UVTD_PERM_RW, &iova);
		rte_log_set_level(uvtd_logtype, lvl);
		CHECK(got == -ENOMEM, "a map found IOVA space (%d, 0x%" PRIx64
		      "): the roll-back recycled IOVAs whose invalidation "
		      "failed", got, iova);
	}
	vtdemu_stale_reset(cm);
	rmdom(d, 1);
}

/* The lazy bound for an lcore that went idle: lcore 1 unmaps and stops;
 * the "uvtd_poll" service, run on the main lcore, flushes for it. */
static uint64_t idle_iova[8];
static int idle_dom;

static int idle_unmapper(void *arg)
{
	(void)arg;
	for (int i = 0; i < 8; i++)
		if (uvtd_unmap(idle_dom, idle_iova[i], PG) != 0)
			return -1;
	return 0;
}

static void test_lazy_bound_idle_lcore(void)
{
	unsigned int w = rte_get_next_lcore(-1, 1, 0);
	struct vtdemu *emu = uvtd_vtd_emu(0);
	uint32_t sid;

	if (w >= RTE_MAX_LCORE)
		SKIP_TEST("needs two lcores");
	idle_dom = mkdom(UVTD_POLICY_LAZY, 0);
	REQUIRE(idle_dom >= 0, "domain");
	OK(uvtd_service_register(&sid));
	OK(rte_service_runstate_set(sid, 1));
	for (int i = 0; i < 8; i++) {
		OK(uvtd_map(idle_dom, pa_of((unsigned int)i), PG, UVTD_PERM_RW,
			    &idle_iova[i]));
		CHECK_EQ(dma_write(0, 0, idle_iova[i], 1), 4);
	}
	OK(uvtd_test_launch(idle_unmapper, NULL, w));
	uvtd_test_join(w);
	vtdemu_stale_reset(emu);
	CHECK_EQ(dma_write(0, 0, idle_iova[0], 1), 4);   /* still cached */
	CHECK(vtdemu_stale_count(emu) > 0, "stale inside the bound");
	vtdemu_stale_reset(emu);
	usleep(5000);
	OK(rte_service_run_iter_on_app_lcore(sid, 1));
	for (int i = 0; i < 8; i++)
		CHECK_EQ(dma_write(0, 0, idle_iova[i], 1), -EFAULT);
	CHECK_EQ(vtdemu_stale_count(emu), 0);
	OK(rte_service_runstate_set(sid, 0));
	rmdom(idle_dom, 0);
}

/* One uvtd_poll() past the bound enforces it for the caller's entries and
 * for an idle lcore's at once, also when the caller's own flush is
 * page-selective (caching mode: it covers only the caller's entries). */
static void test_lazy_poll_own_and_idle(void)
{
	unsigned int w = rte_get_next_lcore(-1, 1, 0);
	struct uvtd_domain_info info;
	uint64_t mine;

	if (w >= RTE_MAX_LCORE)
		SKIP_TEST("needs two lcores");
	idle_dom = mkdom(UVTD_POLICY_LAZY, 1);
	REQUIRE(idle_dom >= 0, "domain");
	OK(uvtd_domain_info_get(idle_dom, &info));
	REQUIRE(info.lazy_ranges, "a lazy domain with page-selective ranges");
	for (int i = 0; i < 8; i++) {
		OK(uvtd_map(idle_dom, pa_of((unsigned int)i), PG, UVTD_PERM_RW,
			    &idle_iova[i]));
		CHECK_EQ(dma_write(1, 0, idle_iova[i], 1), 4);
	}
	OK(uvtd_map(idle_dom, pa_of(8), PG, UVTD_PERM_RW, &mine));
	CHECK_EQ(dma_write(1, 0, mine, 1), 4);
	OK(uvtd_test_launch(idle_unmapper, NULL, w));
	uvtd_test_join(w);
	OK(uvtd_unmap(idle_dom, mine, PG));
	usleep(6000);                           /* the bound is 2 ms */
	uvtd_poll();
	CHECK(dma_write(1, 0, mine, 1) == -EFAULT, "own entry still reachable");
	for (int i = 0; i < 8; i++)
		CHECK(dma_write(1, 0, idle_iova[i], 1) == -EFAULT, "the idle "
		      "lcore's IOVA 0x%" PRIx64 " still reachable after one "
		      "uvtd_poll past the bound", idle_iova[i]);
	vtdemu_stale_reset(uvtd_vtd_emu(1));
	rmdom(idle_dom, 1);
}

/* docs/service.md, Policies: after uvtd_flush another lcore's lazy entries
 * are invalidated but stay in its queue until it recycles them, so the
 * policy cannot change yet (its IOVAs would never be recycled); one
 * uvtd_poll on that lcore recycles them, and then it can. */
static int pol_poller(void *arg)
{
	(void)arg;
	return uvtd_poll();
}

static void test_lazy_policy_after_flush(void)
{
	unsigned int w = rte_get_next_lcore(-1, 1, 0);
	struct uvtd_domain_info info;

	if (w >= RTE_MAX_LCORE)
		SKIP_TEST("needs two lcores");
	idle_dom = mkdom(UVTD_POLICY_LAZY, 0);
	REQUIRE(idle_dom >= 0, "domain");
	for (int i = 0; i < 8; i++) {
		OK(uvtd_map(idle_dom, pa_of((unsigned int)i), PG, UVTD_PERM_RW,
			    &idle_iova[i]));
		CHECK_EQ(dma_write(0, 0, idle_iova[i], 1), 4);   /* cached */
	}
	OK(uvtd_test_launch(idle_unmapper, NULL, w));
	CHECK_EQ(uvtd_test_join(w), 0);
	OK(uvtd_domain_info_get(idle_dom, &info));
	CHECK_EQ(info.mappings, 0);
	CHECK_EQ(info.lazy_pending, 8);
	/* Lazy: still reachable through the unit's cache until a flush. */
	CHECK_EQ(dma_write(0, 0, idle_iova[0], 1), 4);
	OK(uvtd_flush(idle_dom));
	for (int i = 0; i < 8; i++)
		CHECK(dma_write(0, 0, idle_iova[i], 1) == -EFAULT, "IOVA 0x%"
		      PRIx64 " reachable after uvtd_flush", idle_iova[i]);
	OK(uvtd_domain_info_get(idle_dom, &info));
	CHECK_EQ(info.lazy_pending, 8);          /* invalidated, not recycled */
	CHECK_EQ(uvtd_domain_set_policy(idle_dom, UVTD_POLICY_STRICT), -EBUSY);
	CHECK_EQ(uvtd_domain_policy(idle_dom), UVTD_POLICY_LAZY);
	OK(uvtd_test_launch(pol_poller, NULL, w));
	CHECK_EQ(uvtd_test_join(w), 8);          /* recycled by their lcore */
	OK(uvtd_domain_info_get(idle_dom, &info));
	CHECK_EQ(info.lazy_pending, 0);
	CHECK_EQ(uvtd_domain_set_policy(idle_dom, UVTD_POLICY_STRICT), 0);
	CHECK_EQ(uvtd_domain_policy(idle_dom), UVTD_POLICY_STRICT);
	vtdemu_stale_reset(uvtd_vtd_emu(0));
	rmdom(idle_dom, 0);
}

/* uvtd_faults_drain: a device write to a read-only mapping and a device
 * read of an unmapped page each leave one record, drained with its reason,
 * requester, address, direction and no PASID; bad arguments are refused. */
static void test_faults_drain(void)
{
	struct uvtd_fault f[8];
	uint64_t iova;
	uint32_t v = 0;
	int d, n;

	CHECK_EQ(uvtd_faults_drain(0, NULL, 8), -EINVAL);
	CHECK_EQ(uvtd_faults_drain(0, f, 0), -EINVAL);
	CHECK_EQ(uvtd_faults_drain(NUNITS, f, 8), -ENODEV);
	CHECK_EQ(uvtd_faults_drain(UINT32_MAX, f, 8), -ENODEV);
	/* Whatever earlier tests left pending, on both units. */
	for (unsigned int u = 0; u < NUNITS; u++) {
		for (int i = 0; i < 64 && uvtd_faults_drain(u, f, 8) > 0; i++)
			;
		CHECK_EQ(uvtd_faults_drain(u, f, 8), 0);
	}
	d = mkdom(UVTD_POLICY_STRICT, 0);
	REQUIRE(d >= 0, "domain");
	OK(uvtd_map(d, pa_of(3), PG, UVTD_PERM_READ, &iova));
	/* Requester 1 (rid 0x10): a write where only reads are allowed. */
	CHECK_EQ(dma_write(0, 1, iova + 0x40, 5), -EFAULT);
	n = uvtd_faults_drain(0, f, 8);
	CHECK_EQ(n, 1);
	if (n == 1) {
		CHECK_EQ(f[0].unit, 0);
		CHECK_EQ(f[0].reason, 5);    /* legacy: write denied */
		CHECK(f[0].reason_str != NULL && f[0].reason_str[0] != '\0',
		      "reason string");
		CHECK_EQ(f[0].rid, rids[1]);
		CHECK_EQ(f[0].pasid, UVTD_NO_PASID);
		CHECK_EQ(f[0].addr, iova);
		CHECK(f[0].write, "a write");
	}
	CHECK_EQ(uvtd_faults_drain(0, f, 8), 0);
	OK(uvtd_unmap(d, iova, PG));
	/* Requester 0: a read of the page just unmapped. */
	CHECK_EQ(vtdemu_dma_read(uvtd_vtd_emu(0), rids[0], VTDEMU_NO_PASID,
				 iova + PG - 4, &v, sizeof(v), NULL), -EFAULT);
	n = uvtd_faults_drain(0, f, 8);
	CHECK_EQ(n, 1);
	if (n == 1) {
		CHECK_EQ(f[0].reason, 6);    /* legacy: read denied */
		CHECK_EQ(f[0].rid, rids[0]);
		CHECK_EQ(f[0].addr, iova);
		CHECK(!f[0].write, "a read");
	}
	/* The other unit saw none of it. */
	CHECK_EQ(uvtd_faults_drain(1, f, 8), 0);
	rmdom(d, 0);
}

int main(int argc, char **argv)
{
	char args[160];
	int rc;

	bool threaded = false, pa = false;

	/* "threaded": the units fetch descriptors on their own hardware
	 * threads (asynchronous completion). "pa": hugepages and IOVA as PA
	 * (map by VA then looks the memseg up). */
	for (int i = 1; i < argc; i++) {
		threaded |= strcmp(argv[i], "threaded") == 0;
		pa |= strcmp(argv[i], "pa") == 0;
	}
	if (uvtd_test_eal_init(argv[0], pa ? UVTD_EAL_PA : UVTD_EAL_VA) < 0) {
		if (pa) {
			printf("skip: no hugepages for IOVA as PA\n");
			return 77;
		}
		return 1;
	}
	snprintf(args, sizeof(args), "emu=%s,emu=%s,lazy_entries=64,"
		 "lazy_timeout_us=2000,emu_mode=%s", unit_names[0],
		 unit_names[1], threaded ? "threaded" : "inline");
	printf("# %s\n", args);
	rc = uvtd_init(args);
	if (rc) {
		fprintf(stderr, "uvtd_init(%s): %d\n", args, rc);
		return 1;
	}
	for (unsigned int u = 0; u < NUNITS; u++)
		for (int i = 0; i < 2; i++)
			devs[u][i] = uvtd_dev_open_rid(u, rids[i]);
	mem_mz = rte_memzone_reserve_aligned("svc_emu_mem", MEM_PAGES * PG,
					     SOCKET_ID_ANY, RTE_MEMZONE_IOVA_CONTIG,
					     MEM_PAGES * PG);
	if (mem_mz == NULL) {
		fprintf(stderr, "memzone: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	mem = mem_mz->addr;
	memset(mem, 0, MEM_PAGES * PG);
	RUN(test_streams_strict_server);
	RUN(test_streams_strict_cm);
	RUN(test_streams_batched_server);
	RUN(test_streams_batched_cm);
	RUN(test_streams_lazy_server);
	RUN(test_streams_lazy_cm);
	RUN(test_streams_auto_server);
	RUN(test_streams_auto_cm);
	RUN(test_streams_planted);
	RUN(test_completion_strict);
	RUN(test_completion_batched);
	RUN(test_lazy_bound_server);
	RUN(test_lazy_bound_cm);
	RUN(test_lazy_flush_server);
	RUN(test_lazy_flush_cm);
	RUN(test_map_side_flush);
	RUN(test_planted_bug_caught);
	RUN(test_fixed_and_va);
	RUN(test_guard_pages);
	RUN(test_exhaustion_and_rollback);
	RUN(test_two_units_one_domain);
	RUN(test_lazy_bound_idle_lcore);
	RUN(test_lazy_poll_own_and_idle);
	RUN(test_lazy_policy_after_flush);
	RUN(test_failed_wait_keeps_iova);
	RUN(test_failed_map_flush_clears);
	RUN(test_faults_drain);
	rte_memzone_free(mem_mz);
	CHECK_EQ(uvtd_fini(), 0);
	return TEST_SUMMARY();
}
