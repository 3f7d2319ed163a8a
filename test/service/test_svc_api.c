/* SPDX-License-Identifier: BSD-3-Clause
 * The service's own logic behind a test double driver ("fake", see
 * svc_fake_drv.h): every rejection path (each changes nothing and is
 * counted), what each policy sends and when, IOVAs never reused before
 * their invalidation, two lcores at once, and the planted policy bug.
 * The same guarantees on the VT-d driver and the emulated unit's stale
 * checker are in test_svc_emu.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <rte_launch.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_lcore.h>

#include "uvtd_test.h"
#include "uvtd_eal.h"
#include "uvtd.h"
#include "uvtd_internal.h"
#include "svc_fake_drv.h"

#define PG 4096ull
#define OK(expr)                                                             \
	do {                                                                 \
		int rc_ = (expr);                                            \
		REQUIRE(rc_ >= 0, "%s returned %d", #expr, rc_);             \
	} while (0)

enum { U_PLAIN = 0, U_CM = 1, U_NOPSI = 2 };
static int dev_plain, dev_cm, dev_plain2;

static uint64_t rejected(void)
{
	struct uvtd_stats s;

	uvtd_stats_get(&s);
	return s.rejected;
}

static int mkdom(enum uvtd_policy p, unsigned int unit, int dev)
{
	struct uvtd_domain_conf c;
	int d;

	uvtd_domain_conf_init(&c);
	c.policy = p;
	c.unit = unit;
	d = uvtd_domain_create(&c);
	if (d >= 0 && dev >= 0 && uvtd_attach(d, dev) != 0) {
		uvtd_domain_destroy(d);
		return -1;
	}
	return d;
}

static void rmdom(int d, int dev)
{
	if (dev >= 0)
		uvtd_detach(d, dev);
	uvtd_domain_destroy(d);
}

/* The rejection's log line, captured: the DPDK log stream goes to a memory
 * stream and uvtd's level is raised to ERR around expr (main lowers it to
 * keep the output short). */
static char *rej_buf;
static size_t rej_len;
static FILE *rej_f;
static uint32_t rej_lvl, rej_glvl;

static void rej_capture_begin(void)
{
	rej_f = open_memstream(&rej_buf, &rej_len);
	REQUIRE(rej_f != NULL, "open_memstream");
	rte_openlog_stream(rej_f);
	rej_lvl = rte_log_get_level(uvtd_logtype);
	rej_glvl = rte_log_get_global_level();
	rte_log_set_level(uvtd_logtype, RTE_LOG_ERR);
	if (rej_glvl < RTE_LOG_ERR)      /* a --log-level lowered it */
		rte_log_set_global_level(RTE_LOG_ERR);
}

/* 1 if exactly one line says "<op> ... rejected (<strerror(-err)>)". */
static int rej_capture_end(int err, const char *expr)
{
	char want[96];
	int lines = 0, ok;

	rte_log_set_level(uvtd_logtype, rej_lvl);
	rte_log_set_global_level(rej_glvl);
	rte_openlog_stream(NULL);
	fclose(rej_f);
	snprintf(want, sizeof(want), "rejected (%s)", strerror(-err));
	for (const char *p = rej_buf; (p = strstr(p, "rejected (")) != NULL;
	     p++)
		lines++;
	ok = lines == 1 && strstr(rej_buf, want) != NULL;
	if (!ok)
		printf("# %s logged %d rejection line(s), wanted one with "
		       "\"%s\": %s\n", expr, lines, want, rej_buf);
	free(rej_buf);
	rej_buf = NULL;
	return ok;
}

/* Expects rc from expr, one more rejection, one log line saying so, and no
 * change in the fake's page-table operations. */
#define EXPECT_REJECT(expr, err)                                             \
	do {                                                                 \
		struct fake_counters b_, a_;                                 \
		uint64_t r_ = rejected();                                    \
		int rc_, logged_;                                            \
		fake_counters_get(&b_);                                      \
		rej_capture_begin();                                         \
		rc_ = (expr);                                                \
		logged_ = rej_capture_end((err), #expr);                     \
		fake_counters_get(&a_);                                      \
		CHECK(rc_ == (err), "%s = %d, expected %s", #expr, rc_, #err); \
		CHECK(rejected() == r_ + 1, "%s: rejection not counted", #expr); \
		CHECK(logged_, "%s: no log line for the rejection", #expr);  \
		CHECK(a_.maps == b_.maps && a_.unmaps == b_.unmaps,          \
		      "%s changed the page table", #expr);                   \
	} while (0)

/* Not DPDK memory: a page-aligned static buffer. */
static uint8_t not_dpdk[2 * 4096] __attribute__((aligned(4096)));

static void test_map_rejections(void)
{
	int d = mkdom(UVTD_POLICY_STRICT, U_PLAIN, dev_plain);
	uint64_t iova, fixed = 0x100000;
	struct uvtd_domain_info info;
	uint8_t *buf = rte_malloc(NULL, 2 * PG, PG);

	REQUIRE(d >= 0, "domain");
	REQUIRE(buf != NULL, "rte_malloc");
	/* By virtual address: DPDK memory only, in either IOVA mode. */
	EXPECT_REJECT(uvtd_map_va(d, not_dpdk, PG, UVTD_PERM_RW, &iova),
		      -EINVAL);
	EXPECT_REJECT(uvtd_map_va(d, buf + 8, PG, UVTD_PERM_RW, &iova),
		      -EINVAL);
	EXPECT_REJECT(uvtd_map_va(d, buf, 0, UVTD_PERM_RW, &iova), -EINVAL);
	EXPECT_REJECT(uvtd_map_va(d, buf, PG + 1, UVTD_PERM_RW, &iova),
		      -EINVAL);
	OK(uvtd_map_va(d, buf, 2 * PG, UVTD_PERM_RW, &iova));
	OK(uvtd_unmap(d, iova, 2 * PG));
	rte_free(buf);
	EXPECT_REJECT(uvtd_map(d, 0x1000, 0, UVTD_PERM_RW, &iova), -EINVAL);
	EXPECT_REJECT(uvtd_map(d, 0x1001, PG, UVTD_PERM_RW, &iova), -EINVAL);
	EXPECT_REJECT(uvtd_map(d, 0x1000, PG + 1, UVTD_PERM_RW, &iova), -EINVAL);
	EXPECT_REJECT(uvtd_map(d, 0x1000, PG, 0, &iova), -EINVAL);
	EXPECT_REJECT(uvtd_map(d, 0x1000, PG, 8, &iova), -EINVAL);
	EXPECT_REJECT(uvtd_map(d, UINT64_MAX - 0xfff, 2 * PG, UVTD_PERM_RW,
			       &iova), -ERANGE);
	EXPECT_REJECT(uvtd_map(d, 0x1000, PG, UVTD_PERM_RW, NULL), -EINVAL);
	/* Fixed IOVAs. */
	EXPECT_REJECT(uvtd_map_fixed(d, 0x1800, 0x1000, PG, UVTD_PERM_RW), -EINVAL);
	EXPECT_REJECT(uvtd_map_fixed(d, UINT64_MAX - 0xfff, 0x1000, 2 * PG,
				     UVTD_PERM_RW), -ERANGE);
	EXPECT_REJECT(uvtd_map_fixed(d, 1ull << 48, 0x1000, PG, UVTD_PERM_RW),
		      -ERANGE);
	EXPECT_REJECT(uvtd_map_fixed(d, (1ull << 48) - PG, 0x1000, 2 * PG,
				     UVTD_PERM_RW), -ERANGE);
	uvtd_domain_info_get(d, &info);
	EXPECT_REJECT(uvtd_map_fixed(d, info.iova_base, 0x1000, PG,
				     UVTD_PERM_RW), -EINVAL);
	EXPECT_REJECT(uvtd_map_fixed(d, info.iova_base - PG, 0x1000, 2 * PG,
				     UVTD_PERM_RW), -EINVAL);
	OK(uvtd_map_fixed(d, fixed, 0x200000, 2 * PG, UVTD_PERM_RW));
	EXPECT_REJECT(uvtd_map_fixed(d, fixed, 0x1000, 2 * PG, UVTD_PERM_RW),
		      -EEXIST);
	EXPECT_REJECT(uvtd_map_fixed(d, fixed + PG, 0x1000, PG, UVTD_PERM_RW),
		      -EEXIST);
	EXPECT_REJECT(uvtd_map_fixed(d, fixed - PG, 0x1000, 2 * PG,
				     UVTD_PERM_RW), -EEXIST);
	OK(uvtd_map_fixed(d, fixed + 2 * PG, 0x1000, PG, UVTD_PERM_RW));
	OK(uvtd_map_fixed(d, fixed - PG, 0x1000, PG, UVTD_PERM_RW));
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.mappings, 3);
	rmdom(d, dev_plain);
}

static void test_unmap_rejections(void)
{
	int d = mkdom(UVTD_POLICY_BATCHED, U_PLAIN, dev_plain);
	uint64_t a, b, fixed = 0x100000;
	struct uvtd_domain_info info;

	REQUIRE(d >= 0, "domain");
	OK(uvtd_map(d, 0x10000, 2 * PG, UVTD_PERM_RW, &a));
	OK(uvtd_map(d, 0x20000, 8 * PG, UVTD_PERM_READ, &b));
	OK(uvtd_map_fixed(d, fixed, 0x30000, 4 * PG, UVTD_PERM_RW));
	EXPECT_REJECT(uvtd_unmap(d, a, 0), -EINVAL);
	EXPECT_REJECT(uvtd_unmap(d, a + 1, PG), -EINVAL);
	EXPECT_REJECT(uvtd_unmap(d, a, PG + 7), -EINVAL);
	EXPECT_REJECT(uvtd_unmap(d, UINT64_MAX - 0xfff, 2 * PG), -ERANGE);
	EXPECT_REJECT(uvtd_unmap(d, 1ull << 48, PG), -ERANGE);
	/* Partial: the first page, a page inside, longer than mapped. */
	EXPECT_REJECT(uvtd_unmap(d, a, PG), -EINVAL);
	EXPECT_REJECT(uvtd_unmap(d, a + PG, PG), -EINVAL);
	EXPECT_REJECT(uvtd_unmap(d, b, 16 * PG), -EINVAL);
	EXPECT_REJECT(uvtd_unmap(d, b + 4 * PG, 4 * PG), -EINVAL);
	EXPECT_REJECT(uvtd_unmap(d, fixed, 2 * PG), -EINVAL);
	EXPECT_REJECT(uvtd_unmap(d, fixed + PG, 3 * PG), -EINVAL);
	/* Not mapped. */
	EXPECT_REJECT(uvtd_unmap(d, 0x900000, PG), -ENOENT);
	EXPECT_REJECT(uvtd_unmap(d, a + 2 * PG, PG), -ENOENT);
	/* The rejected calls left every mapping whole. */
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.mappings, 3);
	CHECK_EQ(info.mapped_bytes, 14 * PG);
	OK(uvtd_unmap(d, a, 2 * PG));
	EXPECT_REJECT(uvtd_unmap(d, a, 2 * PG), -ENOENT);   /* twice */
	OK(uvtd_unmap(d, fixed, 4 * PG));
	EXPECT_REJECT(uvtd_unmap(d, fixed, 4 * PG), -ENOENT);
	OK(uvtd_unmap(d, b, 8 * PG));
	rmdom(d, dev_plain);
}

static void test_burst_rejections(void)
{
	int d = mkdom(UVTD_POLICY_BATCHED, U_PLAIN, dev_plain);
	struct uvtd_map_req m[4];
	struct uvtd_unmap_req u[4];
	static struct uvtd_map_req big[UVTD_BURST_MAX + 1];
	struct uvtd_domain_info info;

	REQUIRE(d >= 0, "domain");
	for (int i = 0; i < 4; i++)
		m[i] = (struct uvtd_map_req){ .phys = 0x100000 + i * PG,
					      .len = PG, .perm = UVTD_PERM_RW };
	m[2].len = 0;
	EXPECT_REJECT(uvtd_map_burst(d, m, 4), -EINVAL);
	for (int i = 0; i <= UVTD_BURST_MAX; i++)
		big[i] = m[0];
	EXPECT_REJECT(uvtd_map_burst(d, big, UVTD_BURST_MAX + 1), -EINVAL);
	m[2].len = PG;
	CHECK_EQ(uvtd_map_burst(d, m, 4), 4);
	/* A duplicate, or one not mapped, rejects the whole unmap burst. */
	for (int i = 0; i < 4; i++)
		u[i] = (struct uvtd_unmap_req){ m[i].iova, PG };
	u[3] = u[1];
	EXPECT_REJECT(uvtd_unmap_burst(d, u, 4), -ENOENT);
	u[3].iova = 0x12345000;
	EXPECT_REJECT(uvtd_unmap_burst(d, u, 4), -ENOENT);
	u[3] = (struct uvtd_unmap_req){ m[3].iova, 2 * PG };
	EXPECT_REJECT(uvtd_unmap_burst(d, u, 4), -EINVAL);
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.mappings, 4);
	u[3].len = PG;
	CHECK_EQ(uvtd_unmap_burst(d, u, 4), 4);
	CHECK_EQ(uvtd_map_burst(d, m, 0), 0);
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.mappings, 0);
	rmdom(d, dev_plain);
}

static void test_object_rejections(void)
{
	struct uvtd_domain_conf c;
	uint64_t iova;
	int d, gone;

	EXPECT_REJECT(uvtd_map(-1, 0x1000, PG, UVTD_PERM_RW, &iova), -ENODEV);
	EXPECT_REJECT(uvtd_map(UVTD_MAX_DOMAINS, 0x1000, PG, UVTD_PERM_RW,
			       &iova), -ENODEV);
	EXPECT_REJECT(uvtd_unmap(UVTD_MAX_DOMAINS - 1, 0x1000, PG), -ENODEV);
	EXPECT_REJECT(uvtd_map_fixed(UVTD_MAX_DOMAINS - 1, 0x1000, 0x1000, PG,
				     UVTD_PERM_RW), -ENODEV);
	gone = mkdom(UVTD_POLICY_STRICT, U_PLAIN, -1);
	REQUIRE(gone >= 0, "domain");
	OK(uvtd_domain_destroy(gone));
	EXPECT_REJECT(uvtd_map(gone, 0x1000, PG, UVTD_PERM_RW, &iova), -ENODEV);
	EXPECT_REJECT(uvtd_unmap(gone, 0x1000, PG), -ENODEV);
	EXPECT_REJECT(uvtd_flush(gone), -ENODEV);
	EXPECT_REJECT(uvtd_domain_destroy(gone), -ENODEV);
	EXPECT_REJECT(uvtd_attach(gone, dev_plain), -ENODEV);
	EXPECT_REJECT(uvtd_detach(gone, dev_plain), -ENODEV);
	EXPECT_REJECT(uvtd_map_fixed(gone, 0x1000, 0x1000, PG, UVTD_PERM_RW),
		      -ENODEV);
	{
		void *buf = rte_malloc(NULL, PG, PG);

		REQUIRE(buf != NULL, "rte_malloc");
		EXPECT_REJECT(uvtd_map_va(gone, buf, PG, UVTD_PERM_RW, &iova),
			      -ENODEV);
		rte_free(buf);
	}
	{
		struct uvtd_map_req mr = { .phys = 0x1000, .len = PG,
					   .perm = UVTD_PERM_RW };
		struct uvtd_unmap_req ur = { 0x1000, PG };

		EXPECT_REJECT(uvtd_map_burst(gone, &mr, 1), -ENODEV);
		EXPECT_REJECT(uvtd_unmap_burst(gone, &ur, 1), -ENODEV);
	}
	EXPECT_REJECT(uvtd_domain_set_policy(gone, UVTD_POLICY_LAZY), -ENODEV);
	EXPECT_REJECT(uvtd_domain_policy(gone), -ENODEV);
	EXPECT_REJECT(uvtd_debug_skip_unmap_invalidation(gone, true), -ENODEV);
	{
		struct uvtd_domain_info di;
		struct uvtd_unit_info ui;

		EXPECT_REJECT(uvtd_domain_info_get(gone, &di), -ENODEV);
		EXPECT_REJECT(uvtd_domain_info_get(0, NULL), -EINVAL);
		EXPECT_REJECT(uvtd_unit_info_get(99, &ui), -ENODEV);
		EXPECT_REJECT(uvtd_unit_info_get(0, NULL), -EINVAL);
	}
	EXPECT_REJECT(uvtd_stats_get(NULL), -EINVAL);
	EXPECT_REJECT(uvtd_dev_unit(12345), -ENODEV);
	{
		/* A device opened and closed again. */
		int dv = uvtd_dev_open_rid(U_PLAIN, 0x1f), dd;

		REQUIRE(dv >= 0, "device");
		OK(uvtd_dev_close(dv));
		EXPECT_REJECT(uvtd_dev_unit(dv), -ENODEV);
		dd = mkdom(UVTD_POLICY_STRICT, U_PLAIN, -1);
		REQUIRE(dd >= 0, "domain");
		EXPECT_REJECT(uvtd_attach(dd, dv), -ENODEV);
		rmdom(dd, -1);
	}

	d = mkdom(UVTD_POLICY_STRICT, U_PLAIN, dev_plain);
	REQUIRE(d >= 0, "domain");
	EXPECT_REJECT(uvtd_attach(d, 999), -ENODEV);
	EXPECT_REJECT(uvtd_attach(d, -1), -ENODEV);
	EXPECT_REJECT(uvtd_attach(d, dev_plain), -EBUSY);
	EXPECT_REJECT(uvtd_detach(d, dev_plain2), -ENOENT);
	EXPECT_REJECT(uvtd_dev_close(dev_plain), -EBUSY);
	EXPECT_REJECT(uvtd_domain_destroy(d), -EBUSY);
	OK(uvtd_map(d, 0x1000, PG, UVTD_PERM_RW, &iova));
	EXPECT_REJECT(uvtd_domain_set_policy(d, UVTD_POLICY_LAZY), -EBUSY);
	OK(uvtd_unmap(d, iova, PG));
	OK(uvtd_domain_set_policy(d, UVTD_POLICY_LAZY));
	CHECK_EQ(uvtd_domain_policy(d), UVTD_POLICY_LAZY);
	rmdom(d, dev_plain);

	EXPECT_REJECT(uvtd_dev_open_rid(9, 0x10), -ENODEV);
	EXPECT_REJECT(uvtd_dev_open_rid(U_PLAIN, 0x10), -EEXIST);
	EXPECT_REJECT(uvtd_dev_open_pci("00:02.0"), -ENODEV);
	EXPECT_REJECT(uvtd_dev_close(12345), -ENODEV);
	uvtd_domain_conf_init(&c);
	c.addr_width = 40;
	EXPECT_REJECT(uvtd_domain_create(&c), -EINVAL);
	c.addr_width = 57;
	EXPECT_REJECT(uvtd_domain_create(&c), -EINVAL);
	c.addr_width = 0;
	c.unit = 7;
	EXPECT_REJECT(uvtd_domain_create(&c), -ENODEV);
	c.unit = 0;
	c.iova_base = 0x1001;
	c.iova_size = 1 << 20;
	EXPECT_REJECT(uvtd_domain_create(&c), -EINVAL);
	c.iova_base = (1ull << 48) - PG;
	EXPECT_REJECT(uvtd_domain_create(&c), -EINVAL);
	/* The per-domain settings, in the ranges of uvtd_init()'s. */
	uvtd_domain_conf_init(&c);
	c.guard = 2;
	EXPECT_REJECT(uvtd_domain_create(&c), -EINVAL);
	c.guard = -2;
	EXPECT_REJECT(uvtd_domain_create(&c), -EINVAL);
	uvtd_domain_conf_init(&c);
	c.lazy_entries = UVTD_LAZY_ENTRIES_MAX + 1;
	EXPECT_REJECT(uvtd_domain_create(&c), -EINVAL);
	c.lazy_entries = 0x80000001u;
	EXPECT_REJECT(uvtd_domain_create(&c), -EINVAL);
	uvtd_domain_conf_init(&c);
	c.lazy_timeout_us = UVTD_LAZY_TIMEOUT_US_MAX + 1;
	EXPECT_REJECT(uvtd_domain_create(&c), -EINVAL);
	c.lazy_timeout_us = UINT64_MAX;
	EXPECT_REJECT(uvtd_domain_create(&c), -EINVAL);
	/* The largest of each is taken. */
	c.lazy_timeout_us = UVTD_LAZY_TIMEOUT_US_MAX;
	c.lazy_entries = UVTD_LAZY_ENTRIES_MAX;
	c.guard = 1;
	d = uvtd_domain_create(&c);
	CHECK(d >= 0, "the largest settings refused: %d", d);
	if (d >= 0)
		OK(uvtd_domain_destroy(d));
}

/* A thread DPDK does not know is refused until it registers. */
static int thread_rc[3];
static int thread_dom;

static void *foreign_thread(void *arg)
{
	uint64_t iova = 0;

	(void)arg;
	thread_rc[0] = uvtd_map(thread_dom, 0x1000, PG, UVTD_PERM_RW, &iova);
	thread_rc[1] = uvtd_thread_register();
	thread_rc[2] = uvtd_map(thread_dom, 0x1000, PG, UVTD_PERM_RW, &iova);
	if (thread_rc[2] == 0)
		thread_rc[2] = uvtd_unmap(thread_dom, iova, PG);
	uvtd_thread_unregister();
	return NULL;
}

static void test_unregistered_thread(void)
{
	pthread_t t;
	uint64_t r0 = rejected();

	thread_dom = mkdom(UVTD_POLICY_LAZY, U_PLAIN, dev_plain);
	REQUIRE(thread_dom >= 0, "domain");
	pthread_create(&t, NULL, foreign_thread, NULL);
	pthread_join(t, NULL);
	CHECK_EQ(thread_rc[0], -EPERM);
	CHECK_EQ(thread_rc[1], 0);
	CHECK_EQ(thread_rc[2], 0);
	CHECK_EQ(rejected(), r0 + 1);
	rmdom(thread_dom, dev_plain);
}

static void test_rejections_by_class(void)
{
	struct uvtd_stats s;
	uint64_t sum = 0;

	uvtd_stats_get(&s);
	for (int i = 0; i < 8; i++)
		sum += s.rejected_by[i];
	CHECK_EQ(sum, s.rejected);
	CHECK(s.rejected_by[0] && s.rejected_by[1] && s.rejected_by[2] &&
	      s.rejected_by[3] && s.rejected_by[4] && s.rejected_by[6],
	      "every class seen");
}

/* ---- policies ---- */

/* The IOVA statistics a domain reports (uvtd_domain_info_get, and
 * /uvtd/domain): magazine hits, global allocations, internal fragmentation
 * (a 3-page map takes a 4-page block) and the large region's free space. */
static void test_iova_stats(void)
{
	struct uvtd_domain_conf c;
	struct uvtd_domain_info i0, i;
	const uint64_t big = 1ull << 20;       /* beyond the size classes */
	uint64_t a, b, x[3];
	int d;

	uvtd_domain_conf_init(&c);
	c.policy = UVTD_POLICY_STRICT;
	c.guard = 0;
	d = uvtd_domain_create(&c);
	REQUIRE(d >= 0, "domain");
	OK(uvtd_attach(d, dev_plain));
	OK(uvtd_domain_info_get(d, &i0));
	CHECK_EQ(i0.iova_global_allocs, 0);
	CHECK(i0.iova_hit_rate == 0.0, "hit rate %f", i0.iova_hit_rate);
	CHECK(i0.iova_large_free_bytes > 0 &&
	      i0.iova_large_free_bytes < i0.iova_size &&
	      i0.iova_large_largest_free == i0.iova_large_free_bytes,
	      "large region: %" PRIu64 " free, largest %" PRIu64,
	      i0.iova_large_free_bytes, i0.iova_large_largest_free);

	/* One page three times: the first from never-used space, then
	 * back and forth through the magazine. */
	for (int k = 0; k < 3; k++) {
		OK(uvtd_map(d, 0x100000, PG, UVTD_PERM_RW, &x[k]));
		OK(uvtd_unmap(d, x[k], PG));
	}
	OK(uvtd_domain_info_get(d, &i));
	CHECK(i.iova_global_allocs >= 1, "global allocs %" PRIu64,
	      i.iova_global_allocs);
	CHECK(i.iova_hit_rate > 0.5, "hit rate %f after reuse",
	      i.iova_hit_rate);

	/* Three pages in a four-page block: a quarter reserved unmapped. */
	OK(uvtd_map(d, 0x100000, 3 * PG, UVTD_PERM_RW, &a));
	OK(uvtd_domain_info_get(d, &i));
	CHECK(i.iova_fragmentation > 0.24 && i.iova_fragmentation < 0.26,
	      "internal fragmentation %f, expected 0.25",
	      i.iova_fragmentation);
	OK(uvtd_unmap(d, a, 3 * PG));

	/* Two large maps, the first unmapped: the free space is what is
	 * left, never more than it in one piece. */
	OK(uvtd_map(d, 0x100000, big, UVTD_PERM_RW, &a));
	OK(uvtd_map(d, 0x100000, big, UVTD_PERM_RW, &b));
	OK(uvtd_domain_info_get(d, &i));
	CHECK_EQ(i.iova_large_free_bytes, i0.iova_large_free_bytes - 2 * big);
	OK(uvtd_unmap(d, a, big));
	OK(uvtd_domain_info_get(d, &i));
	CHECK_EQ(i.iova_large_free_bytes, i0.iova_large_free_bytes - big);
	CHECK(i.iova_large_largest_free <= i.iova_large_free_bytes,
	      "largest %" PRIu64 " > free %" PRIu64,
	      i.iova_large_largest_free, i.iova_large_free_bytes);
	OK(uvtd_unmap(d, b, big));
	OK(uvtd_domain_info_get(d, &i));
	CHECK_EQ(i.iova_large_free_bytes, i0.iova_large_free_bytes);
	rmdom(d, dev_plain);
}

static void test_strict(void)
{
	int d = mkdom(UVTD_POLICY_STRICT, U_PLAIN, dev_plain);
	struct fake_counters b, a;
	struct uvtd_unmap_req u[8];
	uint64_t iova;

	REQUIRE(d >= 0, "domain");
	fake_counters_get(&b);
	for (int i = 0; i < 8; i++) {
		OK(uvtd_map(d, 0x100000, PG, UVTD_PERM_RW, &iova));
		OK(uvtd_unmap(d, iova, PG));
		fake_counters_get(&a);
		CHECK_EQ(a.dirty_now, 0);   /* invalidated before return */
	}
	CHECK_EQ(a.psi - b.psi, 8);
	CHECK_EQ(a.waits - b.waits, 8);
	CHECK_EQ(a.map_inv - b.map_inv, 0);   /* CM=0, RWBF=0: no map flush */
	/* A strict burst still waits per unmap. */
	for (int i = 0; i < 8; i++) {
		OK(uvtd_map(d, 0x100000, PG, UVTD_PERM_RW, &u[i].iova));
		u[i].len = PG;
	}
	fake_counters_get(&b);
	CHECK_EQ(uvtd_unmap_burst(d, u, 8), 8);
	fake_counters_get(&a);
	CHECK_EQ(a.waits - b.waits, 8);
	CHECK_EQ(a.dirty_now, 0);
	rmdom(d, dev_plain);
}

static void test_batched(void)
{
	int d = mkdom(UVTD_POLICY_BATCHED, U_PLAIN, dev_plain);
	struct uvtd_map_req m[32];
	struct uvtd_unmap_req u[32];
	struct fake_counters b, a;

	REQUIRE(d >= 0, "domain");
	for (int i = 0; i < 32; i++)
		m[i] = (struct uvtd_map_req){ .phys = 0x100000, .len = PG,
					      .perm = UVTD_PERM_RW };
	fake_counters_get(&b);
	CHECK_EQ(uvtd_map_burst(d, m, 32), 32);
	for (int i = 0; i < 32; i++)
		u[i] = (struct uvtd_unmap_req){ m[i].iova, PG };
	CHECK_EQ(uvtd_unmap_burst(d, u, 32), 32);
	fake_counters_get(&a);
	CHECK_EQ(a.waits - b.waits, 1);        /* the whole burst, one wait */
	/* 32 neighbouring one-page blocks: merged into one range. */
	CHECK_EQ(a.psi - b.psi, 1);
	CHECK_EQ(a.dsi - b.dsi, 0);
	CHECK_EQ(a.dirty_now, 0);
	rmdom(d, dev_plain);
}

/* Lazy on a unit without caching mode: nothing is sent until the queue is
 * full (16 here) or its oldest entry is older than the bound; then one
 * domain-selective invalidation, no per-page ranges. */
static void test_lazy_dsi(void)
{
	int d = mkdom(UVTD_POLICY_LAZY, U_PLAIN, dev_plain);
	struct uvtd_domain_info info;
	struct fake_counters b, a;
	uint64_t iova[17];

	REQUIRE(d >= 0, "domain");
	uvtd_domain_info_get(d, &info);
	CHECK(!info.lazy_ranges, "no ranges without caching mode");
	for (int i = 0; i < 17; i++)
		OK(uvtd_map(d, 0x100000, PG, UVTD_PERM_RW, &iova[i]));
	fake_counters_get(&b);
	for (int i = 0; i < 16; i++)
		OK(uvtd_unmap(d, iova[i], PG));
	fake_counters_get(&a);
	CHECK_EQ(a.psi + a.dsi + a.waits - b.psi - b.dsi - b.waits, 0);
	CHECK_EQ(a.dirty_now, 16);
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.lazy_pending, 16);
	/* Full: one DSI. It also covers the 17th unmap's cleared entry, but
	 * that entry read the flush counter after the flush started, so it
	 * waits for the next flush before its IOVA is recycled. */
	OK(uvtd_unmap(d, iova[16], PG));
	fake_counters_get(&a);
	CHECK_EQ(a.dsi - b.dsi, 1);
	CHECK_EQ(a.psi - b.psi, 0);
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.lazy_pending, 1);
	/* The time bound (2 ms here), enforced by uvtd_poll. */
	usleep(5000);
	CHECK(uvtd_poll() >= 1, "poll recycled the entry");
	fake_counters_get(&a);
	CHECK_EQ(a.dirty_now, 0);
	CHECK_EQ(a.dsi - b.dsi, 2);
	/* An explicit flush covers what is queued. */
	OK(uvtd_map(d, 0x100000, PG, UVTD_PERM_RW, &iova[0]));
	OK(uvtd_unmap(d, iova[0], PG));
	OK(uvtd_flush(d));
	fake_counters_get(&a);
	CHECK_EQ(a.dirty_now, 0);
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.lazy_pending, 0);
	rmdom(d, dev_plain);
}

/* auto under caching mode: lazy, with page-selective flushes while the
 * domain is large (a DSI would make the hypervisor re-walk all of it),
 * and map-side invalidations. */
static void test_auto_cm(void)
{
	int d = mkdom(UVTD_POLICY_AUTO, U_CM, dev_cm);
	struct uvtd_domain_info info;
	struct fake_counters b, a;
	static uint64_t keep[512];
	uint64_t iova[17];

	REQUIRE(d >= 0, "domain");
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.policy, UVTD_POLICY_LAZY);
	CHECK(info.lazy_ranges, "ranges under caching mode");
	CHECK(info.map_flush, "map flush under caching mode");
	fake_counters_get(&b);
	for (int i = 0; i < 512; i++)
		OK(uvtd_map(d, 0x100000, PG, UVTD_PERM_RW, &keep[i]));
	fake_counters_get(&a);
	CHECK_EQ(a.map_inv - b.map_inv, 512);
	for (int i = 0; i < 17; i++)
		OK(uvtd_map(d, 0x100000, PG, UVTD_PERM_RW, &iova[i]));
	fake_counters_get(&b);
	for (int i = 0; i < 17; i++)
		OK(uvtd_unmap(d, iova[i], PG));
	fake_counters_get(&a);
	CHECK_EQ(a.dsi - b.dsi, 0);
	CHECK_EQ(a.psi - b.psi, 1);      /* the full queue: 16 neighbours */
	CHECK_EQ(a.dirty_now, 1);
	/* A small domain: one DSI is cheaper than 16 PSIs. */
	for (int i = 0; i < 512; i++)
		OK(uvtd_unmap(d, keep[i], PG));
	OK(uvtd_flush(d));
	for (int i = 0; i < 17; i++)
		OK(uvtd_map(d, 0x100000, PG, UVTD_PERM_RW, &iova[i]));
	fake_counters_get(&b);
	for (int i = 0; i < 17; i++)
		OK(uvtd_unmap(d, iova[i], PG));
	fake_counters_get(&a);
	CHECK_EQ(a.dsi - b.dsi, 1);
	CHECK_EQ(a.psi - b.psi, 0);
	OK(uvtd_flush(d));
	rmdom(d, dev_cm);
}

/* auto without caching mode: lazy with domain-selective flushes. A unit
 * without PSI the same. */
static void test_auto_plain(void)
{
	struct uvtd_domain_info info;
	int d = mkdom(UVTD_POLICY_AUTO, U_PLAIN, dev_plain);

	REQUIRE(d >= 0, "domain");
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.policy, UVTD_POLICY_LAZY);
	CHECK(!info.lazy_ranges, "DSI without caching mode");
	CHECK(!info.map_flush, "no map flush");
	rmdom(d, dev_plain);
	d = mkdom(UVTD_POLICY_AUTO, U_NOPSI, -1);
	REQUIRE(d >= 0, "domain");
	uvtd_domain_info_get(d, &info);
	CHECK(!info.lazy_ranges, "no PSI: no ranges");
	rmdom(d, -1);
}

/* ---- random streams on two lcores ---- */

#define SLOTS 256
struct stream {
	int dom;
	uint16_t rid;
	uint64_t seed;
	int errors;
	uint64_t ops;
};
static uint64_t live[2][SLOTS];    /* per lcore: iova | npages, 0 empty */

static int stream_worker(void *arg)
{
	struct stream *s = arg;
	unsigned int me = rte_lcore_id() == rte_get_main_lcore() ? 0 : 1;
	uint64_t r = s->seed;

	for (int it = 0; it < 20000; it++) {
		unsigned int slot;
		uint64_t pa;

		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		slot = (unsigned int)(r % SLOTS);
		if (live[me][slot]) {
			uint64_t iova = live[me][slot] & ~0xfffull;
			uint64_t len = (live[me][slot] & 0xfff) * PG;

			if (r & (1ull << 40)) {
				/* A device reads it: the translation must be
				 * the mapping's, never a stale one. */
				if (fake_translate(s->rid, iova, &pa) != 0)
					s->errors++;
				continue;
			}
			if (uvtd_unmap(s->dom, iova, len) != 0)
				s->errors++;
			live[me][slot] = 0;
		} else {
			uint64_t np = 1 + ((r >> 20) % 4), iova;

			if (uvtd_map(s->dom, 0x400000 + slot * 0x10000, np * PG,
				     UVTD_PERM_RW, &iova) != 0) {
				s->errors++;
				continue;
			}
			if (fake_translate(s->rid, iova, &pa) != 0 ||
			    pa != 0x400000 + slot * 0x10000)
				s->errors++;
			live[me][slot] = iova | np;
		}
		s->ops++;
		if ((it & 1023) == 0)
			uvtd_poll();
	}
	return 0;
}

static void run_streams(enum uvtd_policy p, unsigned int unit, int dev,
			uint16_t rid)
{
	unsigned int w = rte_get_next_lcore(-1, 1, 0);
	struct stream s0, s1;
	struct fake_counters b, a;
	int d = mkdom(p, unit, dev);

	REQUIRE(d >= 0, "domain");
	memset(live, 0, sizeof(live));
	s0 = (struct stream){ .dom = d, .rid = rid, .seed = 0x1234567 };
	s1 = (struct stream){ .dom = d, .rid = rid, .seed = 0x7654321 };
	fake_counters_get(&b);
	if (w < RTE_MAX_LCORE)
		uvtd_test_launch(stream_worker, &s1, w);
	stream_worker(&s0);
	if (w < RTE_MAX_LCORE)
		uvtd_test_join(w);
	fake_counters_get(&a);
	CHECK_EQ(s0.errors + s1.errors, 0);
	CHECK_EQ(a.reuse_dirty - b.reuse_dirty, 0);
	CHECK_EQ(a.stale - b.stale, 0);
	for (int l = 0; l < 2; l++)
		for (int i = 0; i < SLOTS; i++)
			if (live[l][i])
				CHECK_EQ(uvtd_unmap(d, live[l][i] & ~0xfffull,
						    (live[l][i] & 0xfff) * PG), 0);
	if (uvtd_domain_policy(d) != UVTD_POLICY_LAZY) {
		fake_counters_get(&a);
		CHECK_EQ(a.dirty_now, 0);
	}
	OK(uvtd_flush(d));
	fake_counters_get(&a);
	CHECK_EQ(a.dirty_now, 0);
	rmdom(d, dev);
}

static void test_streams_strict(void)
{
	run_streams(UVTD_POLICY_STRICT, U_PLAIN, dev_plain, 0x10);
}

static void test_streams_lazy(void)
{
	run_streams(UVTD_POLICY_LAZY, U_PLAIN, dev_plain, 0x10);
}

static void test_streams_auto_cm(void)
{
	run_streams(UVTD_POLICY_AUTO, U_CM, dev_cm, 0x18);
}

/* The planted bug: unmaps that skip their invalidation. The same stream
 * must catch it (an IOVA reused while its unmap is not invalidated, and a
 * device served a stale translation). */
static void test_planted_bug_caught(void)
{
	int d = mkdom(UVTD_POLICY_STRICT, U_PLAIN, dev_plain);
	struct fake_counters b, a;
	uint64_t iova, again, pa;

	REQUIRE(d >= 0, "domain");
	OK(uvtd_debug_skip_unmap_invalidation(d, true));
	fake_counters_get(&b);
	OK(uvtd_map(d, 0x100000, PG, UVTD_PERM_RW, &iova));
	CHECK_EQ(fake_translate(0x10, iova, &pa), 0);
	OK(uvtd_unmap(d, iova, PG));
	OK(uvtd_map(d, 0x200000, PG, UVTD_PERM_RW, &again));
	CHECK_EQ(again, iova);     /* the magazine hands it straight back */
	CHECK_EQ(fake_translate(0x10, again, &pa), 0);
	fake_counters_get(&a);
	CHECK(a.reuse_dirty > b.reuse_dirty, "reuse before invalidation caught");
	CHECK(a.stale > b.stale, "stale translation caught");
	CHECK_EQ(pa, 0x100000);    /* the device still reaches the old page */
	OK(uvtd_debug_skip_unmap_invalidation(d, false));
	OK(uvtd_unmap(d, again, PG));
	OK(uvtd_flush(d));
	rmdom(d, dev_plain);
}

int main(int argc, char **argv)
{
	int rc;

	(void)argc;
	if (uvtd_test_eal_init(argv[0], UVTD_EAL_VA) < 0)
		return 1;
	fake_drv_register();
	rc = uvtd_init("driver=fake,emu=fake,emu=fake-cm,emu=fake-nopsi,"
		       "lazy_entries=16,lazy_timeout_us=2000");
	if (rc) {
		fprintf(stderr, "uvtd_init: %d\n", rc);
		return 1;
	}
	dev_plain = uvtd_dev_open_rid(U_PLAIN, 0x10);
	dev_plain2 = uvtd_dev_open_rid(U_PLAIN, 0x11);
	dev_cm = uvtd_dev_open_rid(U_CM, 0x18);
	if (dev_plain < 0 || dev_cm < 0 || dev_plain2 < 0)
		return 1;
	/* Rejections log one line each, by design. */
	rte_log_set_level(uvtd_logtype, RTE_LOG_CRIT);
	RUN(test_map_rejections);
	RUN(test_unmap_rejections);
	RUN(test_burst_rejections);
	RUN(test_object_rejections);
	RUN(test_unregistered_thread);
	RUN(test_rejections_by_class);
	RUN(test_iova_stats);
	RUN(test_strict);
	RUN(test_batched);
	RUN(test_lazy_dsi);
	RUN(test_auto_cm);
	RUN(test_auto_plain);
	RUN(test_streams_strict);
	RUN(test_streams_lazy);
	RUN(test_streams_auto_cm);
	RUN(test_planted_bug_caught);
	CHECK_EQ(uvtd_fini(), 0);
	return TEST_SUMMARY();
}
