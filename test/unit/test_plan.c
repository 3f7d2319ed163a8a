/* SPDX-License-Identifier: BSD-3-Clause
 * The invalidation planner (drivers/iommu/vtd/vtd_plan.c), without EAL:
 *   - vtd_plan_psi() exhaustively over a window of starts and lengths and
 *     several MAMV values: exact cover, natural alignment, AM <= MAMV, and
 *     the fewest blocks (against an independent brute-force minimum);
 *   - the boundaries: a range ending at 2^64 - 1, a range that wraps,
 *     [0, ~0), byte-granular ranges;
 *   - vtd_plan_inv(), the policy: PSI vs DSI, IH, DR/DW, device-TLB size
 *     encoding, first-stage (PASID-based) descriptors, VTD_INV_MAP.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uvtd_test.h"
#include "vtd_internal.h"

#define PG 4096ULL

/* ---------------------------------------------------------------------------
 * The checker: does blk[0..n) cover pages [first, first + npages) exactly,
 * each block naturally aligned with am <= mamv? Returns NULL or what is
 * wrong. Written on its own terms (page numbers, not the planner's loop).
 */
static const char *cover_error(uint64_t first, uint64_t npages,
			       unsigned int mamv,
			       const struct vtd_psi_block *blk, int n)
{
	uint64_t next = first;   /* next page that must be covered */

	if (n <= 0)
		return npages ? "no blocks" : NULL;
	for (int i = 0; i < n; i++) {
		uint64_t pfn = blk[i].addr / PG;
		unsigned int am = blk[i].am;

		if (blk[i].addr % PG)
			return "address not page aligned";
		if (am > mamv)
			return "AM above MAMV";
		if (am < 64 && (pfn & ((1ULL << am) - 1)))
			return "block not naturally aligned";
		if (pfn != next)
			return pfn < next ? "overlap or page outside (below)"
					  : "page missing";
		next = pfn + (1ULL << am);
	}
	if (next != first + npages)
		return next > first + npages ? "page outside (above)"
					     : "pages missing at the end";
	return NULL;
}

/* ---------------------------------------------------------------------------
 * Exhaustive window.
 */
#define BLK_MAX 8192
static struct vtd_psi_block blk[BLK_MAX];

static void check_window(uint64_t base_pfn, unsigned int starts,
			 unsigned int lens, unsigned int mamv)
{
	unsigned long bad = 0;

	for (uint64_t s = 0; s < starts; s++) {
		for (uint64_t l = 1; l <= lens; l++) {
			uint64_t pfn = base_pfn + s;
			int n = vtd_plan_psi(pfn * PG, l * PG, mamv, blk, BLK_MAX);
			const char *err = cover_error(pfn, l, mamv, blk, n);

			if (err && bad++ < 5)
				CHECK(0, "mamv %u pfn 0x%" PRIx64 " pages %" PRIu64
				      ": %s (n=%d)", mamv, pfn, l, err, n);
		}
	}
	CHECK(bad == 0, "%lu bad plans (mamv %u)", bad, mamv);
}

static void test_psi_exhaustive_mamv0(void)
{
	/* MAMV 0: every page its own block (cubic work: a smaller window). */
	check_window(0, 1025, 512, 0);
	check_window(4096 - 512, 512, 512, 0);
	CHECK_EQ(vtd_plan_psi(0, 4096 * PG, 0, blk, 256), -E2BIG);
	CHECK_EQ(vtd_plan_psi(0, 4096 * PG, 0, NULL, 4096), 4096);
}

static void test_psi_exhaustive_mamv18(void)
{
	check_window(0, 4097, 4096, 18);
}

static void test_psi_exhaustive_other_mamv(void)
{
	static const unsigned int m[] = { 1, 2, 3, 5, 9, 52, 63 };

	for (unsigned int i = 0; i < RTE_DIM(m); i++)
		check_window(0, 1025, 1024, m[i]);
	/* A window far from 0, across a 1 GiB (2^18 page) boundary. */
	check_window((1ULL << 18) - 600, 1200, 1200, 18);
	check_window((1ULL << 30) - 600, 1200, 1200, 9);
}

/* ---------------------------------------------------------------------------
 * Brute-force minimum: dynamic programming over every exact cover by
 * aligned blocks, for every end in the window.
 */
#define BF_W 2048
static unsigned int bf_min[BF_W + 1];

static void test_psi_minimal(void)
{
	static const unsigned int m[] = { 0, 1, 2, 4, 18 };
	unsigned long bad = 0, compared = 0;

	for (unsigned int mi = 0; mi < RTE_DIM(m); mi++) {
		unsigned int mamv = m[mi];
		/* Small MAMV: long plans, cubic work: a smaller window. */
		unsigned int w = mamv < 2 ? 512 : BF_W;

		for (unsigned int end = 1; end <= w; end++) {
			bf_min[end] = 0;
			for (int p = (int)end - 1; p >= 0; p--) {
				unsigned int best = ~0u;

				for (unsigned int k = 0; k <= mamv && k < 13; k++) {
					uint64_t sz = 1ULL << k;

					if ((p & (sz - 1)) || p + sz > end)
						break;   /* larger k: also not */
					if (bf_min[p + sz] + 1 < best)
						best = bf_min[p + sz] + 1;
				}
				bf_min[p] = best;
			}
			for (unsigned int s = 0; s < end; s++) {
				int n = vtd_plan_psi((uint64_t)s * PG,
						     (uint64_t)(end - s) * PG,
						     mamv, blk, BLK_MAX);

				compared++;
				if (n != (int)bf_min[s] && bad++ < 5)
					CHECK(0, "mamv %u [%u, %u): planner %d "
					      "blocks, minimum %u", mamv, s, end,
					      n, bf_min[s]);
			}
		}
	}
	CHECK(bad == 0, "%lu non-minimal plans of %lu", bad, compared);
}

/* ---------------------------------------------------------------------------
 * Boundaries.
 */
static void test_psi_top_of_space(void)
{
	const uint64_t last_pfn = (UINT64_MAX >> 12);   /* 2^52 - 1 */
	unsigned long bad = 0;

	/* Every range ending exactly at 2^64 - 1, up to 4096 pages. */
	for (uint64_t l = 1; l <= 4096; l++) {
		uint64_t pfn = last_pfn + 1 - l;
		/* MAMV 0 plans are l blocks long: check it on the first 512. */
		uint64_t len = l * PG;           /* pfn*PG + len == 2^64 */

		for (unsigned int mamv = l > 512 ? 18 : 0; mamv <= 18; mamv += 18) {
			int n = vtd_plan_psi(pfn * PG, len, mamv, blk, BLK_MAX);
			const char *err = cover_error(pfn, l, mamv, blk, n);

			if (err && bad++ < 5)
				CHECK(0, "top: %" PRIu64 " pages mamv %u: %s",
				      l, mamv, err);
		}
		/* One byte more wraps. */
		if (vtd_plan_psi(pfn * PG, len + 1, 18, blk, 256) != -ERANGE &&
		    bad++ < 5)
			CHECK(0, "top: %" PRIu64 " pages + 1 byte did not "
			      "return -ERANGE", l);
	}
	CHECK(bad == 0, "%lu bad top-of-space plans", bad);

	/* Starts near 2^64 with lengths that stay below it. */
	check_window(last_pfn + 1 - 4096, 2048, 2048, 18);
	check_window(last_pfn + 1 - 1024, 512, 512, 0);

	/* The last byte alone, and the last page from a byte inside it. */
	CHECK_EQ(vtd_plan_psi(UINT64_MAX, 1, 18, blk, 256), 1);
	CHECK_EQ(blk[0].addr, last_pfn * PG);
	CHECK_EQ(blk[0].am, 0);
	CHECK_EQ(vtd_plan_psi(UINT64_MAX, 2, 18, blk, 256), -ERANGE);
	CHECK_EQ(vtd_plan_psi(UINT64_MAX - 5, UINT64_MAX, 18, blk, 256),
		 -ERANGE);
}

static void test_psi_whole_space(void)
{
	/* [0, 2^64 - 1): every page. MAMV 52 and above: one block. */
	CHECK_EQ(vtd_plan_psi(0, UINT64_MAX, 52, blk, 256), 1);
	CHECK_EQ(blk[0].addr, 0);
	CHECK_EQ(blk[0].am, 52);
	CHECK_EQ(vtd_plan_psi(0, UINT64_MAX, 63, blk, 256), 1);
	CHECK_EQ(blk[0].am, 52);
	/* MAMV 18: 2^34 blocks, far too many: -E2BIG, never an overflow. */
	CHECK_EQ(vtd_plan_psi(0, UINT64_MAX, 18, blk, 256), -E2BIG);
	/* MAMV 51: exactly two halves. */
	CHECK_EQ(vtd_plan_psi(0, UINT64_MAX, 51, blk, 256), 2);
	CHECK(cover_error(0, 1ULL << 52, 51, blk, 2) == NULL, "halves");
	/* len 0 is an empty range, whatever the start. */
	CHECK_EQ(vtd_plan_psi(0, 0, 18, blk, 256), 0);
	CHECK_EQ(vtd_plan_psi(0x1234000, 0, 18, blk, 256), 0);
	CHECK_EQ(vtd_plan_psi(UINT64_MAX, 0, 18, blk, 256), 0);
	/* max 0 with a non-empty range. */
	CHECK_EQ(vtd_plan_psi(0, PG, 18, blk, 0), -E2BIG);
}

static void test_psi_bytes(void)
{
	/* Byte-granular ranges: iova rounded down, end rounded up. */
	unsigned long bad = 0;
	uint64_t x = 88172645463325252ULL;

	for (int i = 0; i < 200000; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		uint64_t iova = (x >> 20) & ((1ULL << 36) - 1);
		uint64_t len = 1 + ((x >> 3) & ((1ULL << 20) - 1));
		uint64_t first = iova / PG, last = (iova + len - 1) / PG;
		int n = vtd_plan_psi(iova, len, 9, blk, 256);
		const char *err = cover_error(first, last - first + 1, 9, blk, n);

		if (err && bad++ < 5)
			CHECK(0, "bytes 0x%" PRIx64 "+0x%" PRIx64 ": %s",
			      iova, len, err);
	}
	CHECK(bad == 0, "%lu bad byte-granular plans", bad);
}

/* The checker bites: plant one mistake of each kind in a good plan. */
static void test_checker_bites(void)
{
	int n = vtd_plan_psi(3 * PG, 29 * PG, 18, blk, 256);
	struct vtd_psi_block b[16];

	REQUIRE(n > 2 && n < 16, "plan of 29 pages: %d blocks", n);
	CHECK(cover_error(3, 29, 18, blk, n) == NULL, "the good plan");
	memcpy(b, blk, sizeof(b));
	b[1].am++;                                       /* overlap */
	CHECK(cover_error(3, 29, 18, b, n) != NULL, "grown block");
	memcpy(b, blk, sizeof(b));
	CHECK(cover_error(3, 29, 18, b, n - 1) != NULL, "dropped block");
	memcpy(b, blk, sizeof(b));
	b[0].addr -= PG;                                 /* misaligned */
	CHECK(cover_error(3, 29, 18, b, n) != NULL, "shifted block");
	CHECK(cover_error(3, 29, 1, blk, n) != NULL, "AM above MAMV");
}

/* ---------------------------------------------------------------------------
 * The policy.
 */
#define CAP_BASE (VTD_CAP_PSI | ((uint64_t)18 << 48))

static struct vtd_desc out[256];
static struct vtd_plan_counts cnt;

static int plan(uint64_t cap, enum vtd_domain_kind kind, bool dw256,
		uint64_t iova, uint64_t len, unsigned int flags,
		const struct vtd_domain_attach *devs, unsigned int ndevs,
		unsigned int max)
{
	struct vtd_plan_req r = {
		.cap = cap, .ecap = 0, .dw256 = dw256, .kind = kind,
		.width = 48, .iova = iova, .len = len, .flags = flags,
		.threshold = 16, .devs = devs, .ndevs = ndevs,
	};
	memset(out, 0xa5, sizeof(out));
	return vtd_plan_inv(&r, out, max, &cnt);
}

static unsigned int desc_type(const struct vtd_desc *d)
{
	return VTD_DESC_TYPE(d->qw[0]);
}

/* Size in bytes of a device-TLB invalidation (PCIe ATS encoding, decoded
 * independently of the planner: S=0 one page, else 8 KiB << the number of
 * trailing ones of ADDR[63:12]). */
static uint64_t devtlb_size(uint64_t addr, int s, unsigned int *log2)
{
	unsigned int ones = 0;

	if (!s) {
		*log2 = 12;
		return PG;
	}
	while (ones < 52 && ((addr >> (12 + ones)) & 1))
		ones++;
	*log2 = 13 + ones;
	return *log2 >= 64 ? 0 : 1ULL << *log2;
}

static void test_policy_psi(void)
{
	struct vtd_domain_attach d = { .did = 7, .sid = 0x10, .pasid = VTD_NO_PASID };
	int n;

	/* 3 pages at 0x5000: 1 + 2 pages. IH=1 without freed tables. */
	n = plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 0x5000, 3 * PG,
		 0, &d, 1, 64);
	REQUIRE(n == 2, "n = %d", n);
	CHECK_EQ(desc_type(&out[0]), VTD_DESC_IOTLB);
	CHECK_EQ(VTD_GET(out[0].qw[0], 5, 4), VTD_INV_PAGE);
	CHECK_EQ(VTD_GET(out[0].qw[0], 31, 16), 7);
	CHECK_EQ(out[0].qw[1] & VTD_PAGE_MASK, 0x5000);
	CHECK_EQ(out[0].qw[1] & 0x3f, 0);
	CHECK(out[0].qw[1] & VTD_BIT(6), "IH set when no table was freed");
	CHECK_EQ(out[1].qw[1] & VTD_PAGE_MASK, 0x6000);
	CHECK_EQ(out[1].qw[1] & 0x3f, 1);
	CHECK_EQ(out[0].qw[0] & (VTD_BIT(6) | VTD_BIT(7)), 0); /* no DR/DW */
	CHECK_EQ(out[0].qw[2] | out[0].qw[3], 0);
	CHECK_EQ(cnt.psi, 2);
	CHECK_EQ(cnt.dsi, 0);

	/* Freed tables: IH=0. DRD/DWD: DR and DW. */
	n = plan(CAP_BASE | VTD_CAP_DRD | VTD_CAP_DWD, VTD_DOMAIN_SECOND_STAGE,
		 false, 0x5000, PG, VTD_INV_TABLES_FREED, &d, 1, 64);
	REQUIRE(n == 1, "n = %d", n);
	CHECK_EQ(out[0].qw[1] & VTD_BIT(6), 0);
	CHECK_EQ(out[0].qw[0] & (VTD_BIT(6) | VTD_BIT(7)),
		 VTD_BIT(6) | VTD_BIT(7));

	/* A range ending at 2^64 - 1 works. */
	n = plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, UINT64_MAX - 2 * PG + 1,
		 2 * PG, 0, &d, 1, 64);
	REQUIRE(n == 1, "n = %d", n);
	CHECK_EQ(out[0].qw[1] & VTD_PAGE_MASK, UINT64_MAX - 2 * PG + 1);
	CHECK_EQ(out[0].qw[1] & 0x3f, 1);
	/* One that wraps does not. */
	CHECK_EQ(plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, UINT64_MAX - PG,
		      2 * PG, 0, &d, 1, 64), -ERANGE);
	/* An empty range at a non-zero iova: nothing. */
	CHECK_EQ(plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 0x1000, 0, 0,
		      &d, 1, 64), 0);
	/* No attachment, or pass-through: nothing. */
	CHECK_EQ(plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 0, PG, 0,
		      &d, 0, 64), 0);
	CHECK_EQ(plan(CAP_BASE, VTD_DOMAIN_PASSTHROUGH, false, 0, PG, 0,
		      &d, 1, 64), 0);
}

static void check_dsi(int n, uint16_t did, const char *why)
{
	CHECK(n == 1, "%s: n = %d", why, n);
	CHECK(desc_type(&out[0]) == VTD_DESC_IOTLB &&
	      VTD_GET(out[0].qw[0], 5, 4) == VTD_INV_DOMAIN &&
	      VTD_GET(out[0].qw[0], 31, 16) == did,
	      "%s: not a DSI of did %u: 0x%" PRIx64, why, did, out[0].qw[0]);
	CHECK(cnt.dsi == 1 && cnt.psi == 0, "%s: counts", why);
}

static void test_policy_dsi(void)
{
	struct vtd_domain_attach d = { .did = 9, .sid = 0x10, .pasid = VTD_NO_PASID };

	/* [0, ~0): iova 0, len 0. */
	check_dsi(plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 0, 0, 0,
		       &d, 1, 64), 9, "flush all");
	/* The whole 48-bit space, and more. */
	check_dsi(plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 0, 1ULL << 48,
		       0, &d, 1, 64), 9, "whole width");
	check_dsi(plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 0, UINT64_MAX,
		       0, &d, 1, 64), 9, "[0, 2^64-1)");
	/* No PSI capability. */
	check_dsi(plan((uint64_t)18 << 48, VTD_DOMAIN_SECOND_STAGE, false,
		       0x5000, PG, 0, &d, 1, 64), 9, "CAP.PSI=0");
	/* Forced. */
	check_dsi(plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 0x5000, PG,
		       VTD_INV_FORCE_DSI, &d, 1, 64), 9, "forced");
	/* Threshold 16: 16 blocks stay PSI, 17 become a DSI. Pages 1..: the
	 * range [1, 1 + 2^k - 1) of pages takes k blocks... use MAMV 0. */
	CHECK_EQ(plan(VTD_CAP_PSI, VTD_DOMAIN_SECOND_STAGE, false, 0x1000,
		      16 * PG, 0, &d, 1, 64), 16);
	CHECK_EQ(cnt.psi, 16);
	check_dsi(plan(VTD_CAP_PSI, VTD_DOMAIN_SECOND_STAGE, false, 0x1000,
		       17 * PG, 0, &d, 1, 64), 9, "17 blocks");
	/* Not enough room for the PSI plan: DSI; not even for that: -E2BIG. */
	check_dsi(plan(VTD_CAP_PSI, VTD_DOMAIN_SECOND_STAGE, false, 0x1000,
		       4 * PG, 0, &d, 1, 3), 9, "room for 3");
	CHECK_EQ(plan(VTD_CAP_PSI, VTD_DOMAIN_SECOND_STAGE, false, 0x1000,
		      4 * PG, 0, &d, 1, 0), -E2BIG);
	/* With the room of an empty batch given: a PSI plan that fits there
	 * but not in what is left is -E2BIG (send the batch, plan again),
	 * never a DSI; one that does not fit even there is a DSI. */
	{
		struct vtd_plan_req r = {
			.cap = VTD_CAP_PSI, .kind = VTD_DOMAIN_SECOND_STAGE,
			.width = 48, .iova = 0x1000, .len = 4 * PG,
			.threshold = 16, .devs = &d, .ndevs = 1, .room = 127,
		};

		CHECK_EQ(vtd_plan_inv(&r, out, 3, &cnt), -E2BIG);
		CHECK_EQ(vtd_plan_inv(&r, out, 4, &cnt), 4);
		CHECK_EQ(cnt.dsi, 0);
		r.room = 3;
		check_dsi(vtd_plan_inv(&r, out, 3, &cnt), 9, "room 3 of 3");
	}
	/* Two devices on one domain id: one IOTLB invalidation. */
	struct vtd_domain_attach two[2] = { d, d };
	two[1].sid = 0x11;
	CHECK_EQ(plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 0x5000, PG, 0,
		      two, 2, 64), 1);
}

/* ECAP.DIT (§6.5.2.5): the PFSID fields carry the endpoint's (physical
 * function's) source id; without DIT they are reserved, zero. */
static void test_policy_devtlb_pfsid(void)
{
	struct vtd_domain_attach d = { .did = 3, .sid = 0x1234, .ats = true,
				       .pasid = VTD_NO_PASID };
	struct vtd_plan_req r = {
		.cap = CAP_BASE, .ecap = VTD_ECAP_DIT,
		.kind = VTD_DOMAIN_SECOND_STAGE, .width = 48, .iova = 0x5000,
		.len = PG, .threshold = 16, .devs = &d, .ndevs = 1,
	};
	int n = vtd_plan_inv(&r, out, 64, &cnt);

	REQUIRE(n == 2, "n = %d", n);
	CHECK_EQ(desc_type(&out[1]), VTD_DESC_DEVTLB);
	CHECK_EQ(VTD_GET(out[1].qw[0], 15, 12) | (VTD_GET(out[1].qw[0], 63, 52) << 4),
		 0x1234);
	r.ecap = 0;
	n = vtd_plan_inv(&r, out, 64, &cnt);
	REQUIRE(n == 2, "n = %d", n);
	CHECK_EQ(VTD_GET(out[1].qw[0], 15, 12) | VTD_GET(out[1].qw[0], 63, 52), 0);
}

static void test_policy_devtlb(void)
{
	struct vtd_domain_attach d[2] = {
		{ .did = 3, .sid = 0x20, .ats = true, .ats_qdepth = 8,
		  .pasid = VTD_NO_PASID },
		{ .did = 3, .sid = 0x21, .ats = false, .pasid = VTD_NO_PASID },
	};
	unsigned int lg;
	int n;

	/* 6 pages at page 2: blocks 2(2p) 4(4p): 2 IOTLB + 2 device-TLB. */
	n = plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 2 * PG, 6 * PG, 0,
		 d, 2, 64);
	REQUIRE(n == 4, "n = %d", n);
	CHECK_EQ(desc_type(&out[0]), VTD_DESC_IOTLB);
	CHECK_EQ(desc_type(&out[1]), VTD_DESC_IOTLB);
	for (int i = 2; i < 4; i++) {
		const struct vtd_desc *x = &out[i];
		uint64_t addr = x->qw[1] & VTD_PAGE_MASK;
		uint64_t size = devtlb_size(addr, (int)(x->qw[1] & 1), &lg);
		uint64_t base = addr & ~(size - 1);

		CHECK_EQ(desc_type(x), VTD_DESC_DEVTLB);
		CHECK_EQ(VTD_GET(x->qw[0], 47, 32), 0x20);   /* SID */
		CHECK_EQ(VTD_GET(x->qw[0], 20, 16), 8);      /* MIP */
		CHECK_EQ(base, (out[i - 2].qw[1] & VTD_PAGE_MASK));
		CHECK_EQ(size, PG << (out[i - 2].qw[1] & 0x3f));
	}
	CHECK_EQ(cnt.devtlb, 2);

	/* A single page: S=0. */
	n = plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 0x7000, PG, 0, d, 1, 64);
	REQUIRE(n == 2, "n = %d", n);
	CHECK_EQ(out[1].qw[1], 0x7000);

	/* Everything: S=1 with ADDR[62:12] all ones: 2^64 bytes. */
	n = plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 0, 0, 0, d, 1, 64);
	REQUIRE(n == 2, "n = %d", n);
	CHECK_EQ(desc_type(&out[1]), VTD_DESC_DEVTLB);
	devtlb_size(out[1].qw[1] & VTD_PAGE_MASK, 1, &lg);
	CHECK(out[1].qw[1] & 1, "S");
	CHECK_EQ(lg, 64);

	/* A 1 GiB block. */
	n = plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 1ULL << 30,
		 1ULL << 30, 0, d, 1, 64);
	REQUIRE(n == 2, "n = %d", n);
	CHECK_EQ(devtlb_size(out[1].qw[1] & VTD_PAGE_MASK, 1, &lg), 1ULL << 30);
	CHECK_EQ(out[1].qw[1] & ~((1ULL << 30) - 1), 1ULL << 30);

	/* Queue depth 32 and above encode as 0. */
	d[0].ats_qdepth = 32;
	plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 0x7000, PG, 0, d, 1, 64);
	CHECK_EQ(VTD_GET(out[1].qw[0], 20, 16), 0);

	/* A map (not-present -> present) under CM: no device-TLB
	 * invalidation, and IH=0: the map may have installed tables whose
	 * not-present parents a CM unit may cache (Linux's map-side flush
	 * uses IH=0 too). Without CM nothing not-present is cached: nothing. */
	n = plan(CAP_BASE | VTD_CAP_CM, VTD_DOMAIN_SECOND_STAGE, false, 2 * PG,
		 6 * PG, VTD_INV_MAP, d, 2, 64);
	CHECK_EQ(n, 2);
	CHECK_EQ(cnt.devtlb, 0);
	CHECK_EQ(out[0].qw[1] & VTD_BIT(6), 0);
	CHECK_EQ(out[1].qw[1] & VTD_BIT(6), 0);
	CHECK_EQ(plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 2 * PG, 6 * PG,
		      VTD_INV_MAP, d, 2, 64), 0);

	/* Too many for the room: DSI plus one full device-TLB. */
	n = plan(CAP_BASE, VTD_DOMAIN_SECOND_STAGE, false, 2 * PG, 6 * PG, 0,
		 d, 2, 3);
	CHECK_EQ(n, 2);
	CHECK_EQ(cnt.dsi, 1);
	CHECK_EQ(cnt.devtlb, 1);
}

static void test_policy_first_stage(void)
{
	struct vtd_domain_attach d[2] = {
		{ .did = 4, .sid = 0x30, .ats = true, .pasid = 5 },
		{ .did = 4, .sid = 0x31, .ats = true, .pasid = VTD_NO_PASID },
	};
	int n;

	/* A 128-bit queue cannot carry PASID-based descriptors. */
	CHECK_EQ(plan(CAP_BASE, VTD_DOMAIN_FIRST_STAGE, false, 0, PG, 0, d, 2, 64),
		 -ENOTSUP);
	/* One page: PASID-IOTLB for PASID 5 and for RID_PASID (0), then a
	 * PASID-based device-TLB for the PASID endpoint and a plain one for
	 * the other. */
	n = plan(CAP_BASE, VTD_DOMAIN_FIRST_STAGE, true, 0x9000, PG, 0, d, 2, 64);
	REQUIRE(n == 4, "n = %d", n);
	CHECK_EQ(desc_type(&out[0]), VTD_DESC_PIOTLB);
	CHECK_EQ(VTD_GET(out[0].qw[0], 5, 4), VTD_PIOTLB_PAGE);
	CHECK_EQ(VTD_GET(out[0].qw[0], 31, 16), 4);
	CHECK_EQ(VTD_GET(out[0].qw[0], 51, 32), 5);
	CHECK_EQ(out[0].qw[1] & VTD_PAGE_MASK, 0x9000);
	CHECK(out[0].qw[1] & VTD_BIT(6), "IH");
	CHECK_EQ(desc_type(&out[1]), VTD_DESC_PIOTLB);
	CHECK_EQ(VTD_GET(out[1].qw[0], 51, 32), 0);
	CHECK_EQ(desc_type(&out[2]), VTD_DESC_PDEVTLB);
	CHECK_EQ(VTD_GET(out[2].qw[0], 31, 16), 0x30);
	CHECK_EQ(VTD_GET(out[2].qw[0], 51, 32), 5);
	CHECK_EQ(out[2].qw[1], 0x9000);                    /* S=0, G=0 */
	CHECK_EQ(desc_type(&out[3]), VTD_DESC_DEVTLB);
	CHECK_EQ(cnt.psi, 2);
	CHECK_EQ(cnt.devtlb, 2);
	CHECK_EQ(cnt.pasid, 3);

	/* Everything: PASID-selective (G=01b... granularity 2). */
	n = plan(CAP_BASE, VTD_DOMAIN_FIRST_STAGE, true, 0, 0, 0, d, 1, 64);
	REQUIRE(n == 2, "n = %d", n);
	CHECK_EQ(VTD_GET(out[0].qw[0], 5, 4), VTD_PIOTLB_PASID);
	CHECK_EQ(cnt.dsi, 1);
	CHECK(out[1].qw[1] & VTD_BIT(11), "S of the PASID device-TLB");
}

int main(void)
{
	RUN(test_checker_bites);
	RUN(test_psi_exhaustive_mamv0);
	RUN(test_psi_exhaustive_mamv18);
	RUN(test_psi_exhaustive_other_mamv);
	RUN(test_psi_minimal);
	RUN(test_psi_top_of_space);
	RUN(test_psi_whole_space);
	RUN(test_psi_bytes);
	RUN(test_policy_psi);
	RUN(test_policy_dsi);
	RUN(test_policy_devtlb);
	RUN(test_policy_devtlb_pfsid);
	RUN(test_policy_first_stage);
	return TEST_SUMMARY();
}
