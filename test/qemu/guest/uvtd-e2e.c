/* SPDX-License-Identifier: BSD-3-Clause
 * uvtd-e2e: runs inside the QEMU guest (test/qemu/rig). uvtd programs QEMU's
 * VT-d unit from guest userspace through /dev/mem, and QEMU's edu device
 * proves with real DMA that translation, invalidation and faults behave.
 *
 *   uvtd-e2e <EAL args> -- --cm 0|1 --aw 39|48 --scalable 0|1
 *            --cap HEX --ecap HEX [--scenarios LIST] [--seed N]
 *            [--stream-ops N (per policy, 300)]
 *
 * EAL args: --no-pci --iova-mode=pa --file-prefix <name> -l 0 (edu is driven
 * through sysfs, not through a DPDK driver; real units need IOVA as PA).
 * LIST is a comma-separated subset of (default: all):
 *
 *   discovery  uvtd parses the guest's DMAR table; the unit serving edu
 *              reports the CAP/ECAP given (facts.md), the mode and width
 *              expected, through the driver and through the service;
 *   stale      (driver) a leaf changed without invalidation is still used
 *              by QEMU (old data) and after the driver's page-selective
 *              invalidation the new leaf is used; an unmap without its
 *              invalidation still reaches the page, after it the access
 *              faults: the rig catches a missing invalidation;
 *   reginv     (driver) stale again, with register-based invalidation
 *              (legacy mode; the unit opened a second time);
 *   passthrough (driver) edu on a pass-through domain reaches physical
 *              addresses; detached from every domain its DMA faults and
 *              writes nothing; re-attached, its mappings work again;
 *   iqe        (driver) an invalid descriptor alone and inside a batch:
 *              the wait returns -EINVAL, FSTS.IQE is cleared, and later
 *              submissions complete and take effect (proved by DMA);
 *   dma        (service) RAM -> edu -> RAM through fixed IOVAs and through
 *              IOVAs uvtd chose, a transfer straddling two IOVA pages that
 *              map to scattered physical pages, a write to a read-only
 *              mapping faults and leaves the page unchanged;
 *   fault      (service) unmap, then DMA both ways: each access faults and
 *              uvtd drains the record: reason, requester 00:01.0, address;
 *   lifecycle  (service, three more processes) what a closed uvtd leaves
 *              behind: run 1 (a child process) maps and exits; then the
 *              unit still translates, its RTADDR is uvtd's blocking root
 *              table (the hugetlbfs file, not run 1's freed memory) and
 *              edu's DMA to run 1's IOVA faults (root entry not present);
 *              run 2 takes the unit over without force and its mapping
 *              works; with RTADDR moved elsewhere run 3 is refused without
 *              force and taken with force=1;
 *   stream     (service) a few hundred map/unmap operations under strict,
 *              batched and lazy policies, with sampled DMA checks after
 *              completed unmaps (the IOVA faults, after a DMA had cached
 *              it) and on live mappings (their own data, also after IOVA
 *              reuse); then the planted bug (unmaps that skip their
 *              invalidation) to show the check catches it.
 *
 * The driver scenarios open the unit with vtd_real_open and close it with
 * translation off, so that the service (uvtd_init("dmar=sys")) can take it
 * over afterwards in the same process.
 *
 * Every check prints a line; the summary line and the exit status follow
 * test/common/uvtd_test.h (0 pass, 1 a failure, 77 all skipped).
 *
 * edu facts (QEMU 7.2, see test/qemu/README.md): requester 00:01.0; DMA
 * addresses masked to 28 bits, so every IOVA here is below 256 MiB; a
 * transfer may not end at the buffer's last byte (4095 bytes at most); one
 * DMA takes about 100 ms of guest time, so the DMA checks are sampled.
 */
#include "guest_util.h"
#include "uvtd_test.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_memzone.h>

#include "uvtd.h"
#include "vtd.h"
#include "vtd_dmar.h"
#include "vtd_hw.h"

/* From the driver's vtd_internal.h (which cannot be included next to the
 * service's uvtd_internal.h: both define the slow-path lock): appends one
 * raw descriptor to a batch, the way the driver's own QI tests plant a bad
 * one. */
int vtd_qctx_add(struct vtd_qctx *q, const struct vtd_desc *d);

/* ---------------------------------------------------------------------------
 * edu (QEMU docs/specs/edu.txt)
 */
#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_PCI "0000:00:01.0"
#define EDU_RID 0x0008            /* bus 0, device 1, function 0 */
#define EDU_IDENT 0x00
#define EDU_IDENT_VALUE 0x010000ed
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 0x1
#define EDU_CMD_TO_RAM 0x2
#define EDU_BUF 0x40000
#define EDU_DMA_MAX 4095          /* QEMU 7.2's off-by-one range check */
#define EDU_DMA_LIMIT (UINT64_C(1) << 28)
#define PCI_CMD_MEMORY 0x2
#define PCI_CMD_MASTER 0x4
#define DMA_TIMEOUT_NS (UINT64_C(5) * 1000000000)

#define PG 4096u
#define NPAGES 64                 /* data pages in one IOVA-contiguous zone */

/* IOVA plan, all below edu's 256 MiB: fixed IOVAs at 16 MiB and up, the
 * service's window at [128 MiB, 192 MiB). */
#define IOVA_SRC    (UINT64_C(16) << 20)
#define IOVA_SINK   (IOVA_SRC + 0x10000)
#define IOVA_SCAT   (IOVA_SRC + 0x20000)
#define IOVA_FAULT  (IOVA_SRC + 0x30000)
#define IOVA_RO     (IOVA_SRC + 0x40000)
#define IOVA_NP     (IOVA_SRC + 0x50000)
#define IOVA_HUGE   (UINT64_C(32) << 20)   /* 2 MiB aligned */
#define SZ_2M       (UINT64_C(2) << 20)
#define WIN_BASE    (UINT64_C(128) << 20)
#define WIN_SIZE    (UINT64_C(64) << 20)

struct opts {
	int cm, aw, scalable;
	uint64_t cap, ecap;
	bool have_cap, have_ecap;
	char scenarios[256];
	uint64_t seed;
	unsigned long stream_ops;     /* per policy */
	int life_run;                 /* lifecycle child: 1, 2 or 3; 0 none */
};
static struct opts o = { .cm = -1, .aw = 0, .scalable = -1, .seed = 1,
			 .stream_ops = 300 };

static volatile uint8_t *bar0;
static size_t bar0_len;
static uint64_t dmar_base;
static uint8_t *pages;           /* NPAGES data pages */
static uint64_t pages_pa;
static bool edu_ok, mem_ok;

static bool want(const char *s)
{
	size_t n = strlen(s);

	for (const char *p = o.scenarios; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if ((l == n && strncmp(p, s, n) == 0) ||
		    (l == 3 && strncmp(p, "all", 3) == 0))
			return true;
		p += l + (e != NULL);
	}
	return false;
}

static uint8_t *page(unsigned int i)
{
	return pages + (size_t)i * PG;
}

static uint64_t page_pa(unsigned int i)
{
	return pages_pa + (uint64_t)i * PG;
}

/* Each data page holds a pattern naming it and a generation, so a stale
 * translation shows up as the wrong page's bytes. */
static void fill(unsigned int i, uint32_t gen)
{
	uint8_t *p = page(i);

	for (unsigned int k = 0; k < PG; k++)
		p[k] = (uint8_t)(k * 13 + i * 29 + gen * 101 + (k >> 8));
	memcpy(p, &i, sizeof(i));
	memcpy(p + 4, &gen, sizeof(gen));
}

static void edu_wr64(unsigned int off, uint64_t v)
{
	*(volatile uint64_t *)(bar0 + off) = v;
}

static uint64_t edu_rd64(unsigned int off)
{
	return *(volatile uint64_t *)(bar0 + off);
}

/* One edu DMA; 0 or -ETIMEDOUT. to_ram: edu buffer -> RAM (a device
 * write), else RAM -> edu buffer (a device read). */
static int edu_dma(uint64_t src, uint64_t dst, uint32_t len, bool to_ram)
{
	uint64_t t0 = guest_now_ns();

	edu_wr64(EDU_DMA_SRC, src);
	edu_wr64(EDU_DMA_DST, dst);
	edu_wr64(EDU_DMA_COUNT, len);
	/* The source data (and the unit's tables) are in memory before the
	 * device is told to go. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	edu_wr64(EDU_DMA_CMD, EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0));
	while (edu_rd64(EDU_DMA_CMD) & EDU_CMD_START) {
		if (guest_now_ns() - t0 > DMA_TIMEOUT_NS)
			return -ETIMEDOUT;
		usleep(1000);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

static unsigned long ndma;

/* Device read of len bytes at iova into edu's buffer, then device write
 * of the buffer to sink_iova (which maps data page sink). Returns 0 and
 * leaves the bytes in page(sink), or -ETIMEDOUT. */
static int dev_read_via(uint64_t iova, uint32_t len, uint64_t sink_iova,
			unsigned int sink)
{
	memset(page(sink), 0xEE, PG);
	ndma += 2;
	if (edu_dma(iova, EDU_BUF, len, false) ||
	    edu_dma(EDU_BUF, sink_iova, len, true))
		return -ETIMEDOUT;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Faults: a drain function per layer, one check for both.
 */
struct flt {
	uint8_t reason;
	uint16_t sid;
	uint64_t addr;
	bool write;
	const char *why;
	uint32_t pasid;           /* UINT32_MAX: the record has none (PP=0) */
};
typedef int (*drain_fn)(struct flt *out, unsigned int max);

static struct vtd_unit *drv_unit;

static int drain_driver(struct flt *out, unsigned int max)
{
	struct vtd_fault f[8];
	int n = vtd_fault_drain(drv_unit, f, RTE_MIN(max, 8u));

	for (int i = 0; i < n; i++)
		out[i] = (struct flt){ f[i].reason, f[i].sid, f[i].addr,
				       f[i].write, f[i].reason_str,
				       f[i].pasid == VTD_NO_PASID ? UINT32_MAX :
				       f[i].pasid };
	return n;
}

/* The service's public fault call (unit 0: the guest has one unit). */
static int drain_service(struct flt *out, unsigned int max)
{
	struct uvtd_fault f[8];
	int n = uvtd_faults_drain(0, f, RTE_MIN(max, 8u));

	for (int i = 0; i < n; i++)
		out[i] = (struct flt){ f[i].reason, f[i].rid, f[i].addr,
				       f[i].write, f[i].reason_str,
				       f[i].pasid == UVTD_NO_PASID ? UINT32_MAX :
				       f[i].pasid };
	return n;
}

/* A second-stage permission (or not-present) failure: legacy reasons 5
 * (write) and 6 (read); scalable mode has its own, 0x85 and 0x86 (VT-d
 * Appendix A, SSS conditions), as vtdemu reports them. QEMU 7.2 reports
 * the legacy ones in scalable mode too (README.md): accepted there and
 * printed. */
#define FR_WRITE 5
#define FR_READ 6
#define FR_SM 0x80

/* Expects exactly one fault record: the access at iova by edu. Returns 1
 * when it was there (and right), 0 when there was none (the DMA was
 * translated: what the planted-bug check wants to see). */
static int expect_fault(drain_fn drain, const char *what, uint64_t iova,
			bool write)
{
	struct flt f[8];
	int n = drain(f, 8);

	if (n < 0) {
		CHECK(false, "%s: draining faults: %s", what, strerror(-n));
		return 0;
	}
	if (n == 0)
		return 0;
	printf("  %s: fault drained: reason 0x%x (%s), requester %02x:%02x.%x, "
	       "address 0x%" PRIx64 ", %s\n", what, f[0].reason,
	       f[0].why ? f[0].why : "?", f[0].sid >> 8, (f[0].sid >> 3) & 0x1f,
	       f[0].sid & 7, f[0].addr, f[0].write ? "write" : "read");
	CHECK_EQ(n, 1);
	CHECK_EQ(f[0].sid, EDU_RID);
	CHECK_EQ(f[0].addr, iova & ~(uint64_t)(PG - 1));
	CHECK_EQ(f[0].write, write);
	if (o.scalable == 1) {
		CHECK(f[0].reason == (FR_SM | (write ? FR_WRITE : FR_READ)) ||
		      f[0].reason == (write ? FR_WRITE : FR_READ),
		      "%s: reason 0x%x", what, f[0].reason);
		if (f[0].reason < FR_SM)
			printf("  %s: legacy reason %u in scalable mode (QEMU; "
			       "the specification has 0x%x)\n", what,
			       f[0].reason, FR_SM | f[0].reason);
	} else {
		CHECK_EQ(f[0].reason, write ? FR_WRITE : FR_READ);
	}
	/* edu sends no PASID, so the record should say none (FRCD.PP=0,
	 * §11.4.14). QEMU 7.2 in scalable mode records PP=1 with PASID 0, the
	 * RID_PASID it translated the request with: accepted there (a
	 * departure from the specification, README.md), nowhere else. */
	if (o.scalable == 1 && f[0].pasid == 0)
		printf("  %s: the record carries PASID 0 (QEMU: PP=1 for a "
		       "request without PASID)\n", what);
	else
		CHECK(f[0].pasid == UINT32_MAX, "%s: fault record with PASID "
		      "0x%x for a request without one", what, f[0].pasid);
	return 1;
}

/* A device read at iova must fault (one DMA). Returns 1 if it did. */
static int read_faults(drain_fn drain, const char *what, uint64_t iova)
{
	ndma++;
	if (edu_dma(iova, EDU_BUF, 64, false)) {
		CHECK(false, "%s: DMA timed out", what);
		return 0;
	}
	return expect_fault(drain, what, iova, false);
}

/* ---------------------------------------------------------------------------
 * Set-up: edu, memory, the unit's address
 */
static void test_setup(void)
{
	char dir[256], path[300];
	struct stat st;
	struct vtd_dmar *dmar = NULL;
	struct vtd_dmar_bdf bdf;
	const struct rte_memzone *mz;
	char err[160] = "";
	int cmd, fd, u;
	void *p;

	REQUIRE(guest_pci_find(EDU_VENDOR, EDU_DEVICE, dir, sizeof(dir)) == 0,
		"no edu device (is '-device edu' on QEMU's command line?)");
	REQUIRE(strstr(dir, EDU_PCI) != NULL, "edu at %s, expected %s", dir,
		EDU_PCI);
	cmd = guest_pci_command_set(dir, PCI_CMD_MEMORY | PCI_CMD_MASTER);
	REQUIRE(cmd >= 0 && (cmd & PCI_CMD_MASTER), "bus mastering: %d", cmd);
	snprintf(path, sizeof(path), "%s/resource0", dir);
	fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	REQUIRE(fd >= 0 && fstat(fd, &st) == 0, "open %s: %s", path,
		strerror(errno));
	bar0_len = (size_t)st.st_size;
	p = mmap(NULL, bar0_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	REQUIRE(p != MAP_FAILED, "mmap %s: %s", path, strerror(errno));
	bar0 = p;
	CHECK_EQ(*(volatile uint32_t *)(bar0 + EDU_IDENT), EDU_IDENT_VALUE);
	edu_ok = true;

	/* The data pages: anywhere in memory (the unit translates), one
	 * zone so that page i is at pages_pa + i * 4 KiB. */
	mz = rte_memzone_reserve_aligned("e2e-pages", (size_t)NPAGES * PG,
					 SOCKET_ID_ANY, RTE_MEMZONE_IOVA_CONTIG,
					 PG);
	REQUIRE(mz != NULL, "memzone: %s", rte_strerror(rte_errno));
	pages = mz->addr;
	pages_pa = mz->iova;
	CHECK_EQ(guest_virt_to_phys(pages), pages_pa);
	mem_ok = true;

	/* The unit serving edu, by the DMAR scopes (QEMU lists each bus-0
	 * device as an endpoint; no INCLUDE_PCI_ALL). */
	REQUIRE(vtd_dmar_parse_file(NULL, &dmar, err, sizeof(err)) == 0,
		"DMAR table: %s", err);
	REQUIRE(vtd_dmar_bdf_parse(EDU_PCI, &bdf) == 0, "bdf");
	u = vtd_dmar_find_unit(dmar, NULL, &bdf, NULL);
	CHECK(u >= 0, "no DMAR unit serves %s: %d", EDU_PCI, u);
	if (u >= 0)
		dmar_base = dmar->drhd[u].base;
	printf("  DMAR: %u unit(s), haw %u; edu's unit #%d at 0x%" PRIx64 "\n",
	       dmar->ndrhd, dmar->haw, u, dmar_base);
	vtd_dmar_free(dmar);
}

/* ---------------------------------------------------------------------------
 * Driver scenarios: the unit opened with vtd_real_open, one second-stage
 * domain with edu attached.
 */
static struct vtd_domain *drv_dom;
static struct vtd_qctx *drv_q;

static int drv_sync_range(uint64_t iova, uint64_t len, unsigned int flags)
{
	int rc = vtd_inv_range(drv_q, drv_dom, iova, len, flags);

	return rc ? rc : vtd_qctx_sync(drv_q);
}

/* Maps and, where the domain needs it (caching mode), flushes the map. */
static int drv_map(uint64_t iova, unsigned int pg, unsigned int perm)
{
	int rc = vtd_map(drv_dom, iova, page_pa(pg), PG, perm);

	if (rc == 0 && vtd_domain_map_flush(drv_dom))
		rc = drv_sync_range(iova, PG, VTD_INV_MAP);
	return rc;
}

static int drv_unmap_noinv(uint64_t iova)
{
	struct vtd_gather g = VTD_GATHER_INIT;
	int rc = vtd_unmap(drv_dom, iova, PG, &g);

	/* Single pages free no table (vtd.h), so nothing waits for release. */
	if (rc == 0 && g.nr_freed)
		rc = -EFAULT;
	return rc;
}

static enum vtd_inval_mode drv_inval = VTD_INVAL_AUTO;

static void test_driver_open(void)
{
	struct vtd_unit_params p;
	struct vtd_domain_params dp;
	struct vtd_attach_params ap = { .sid = EDU_RID, .pasid = VTD_NO_PASID };
	struct vtd_unit_info i;

	REQUIRE(edu_ok && mem_ok && dmar_base, "set-up failed");
	vtd_unit_params_init(&p);
	p.name = "e2e";
	p.enable_translation = true;
	/* Leave the unit as found, for the service after us. */
	p.disable_translation_on_close = true;
	p.inval = drv_inval;
	REQUIRE(vtd_real_open(dmar_base, PG, &p, &drv_unit) == 0,
		"vtd_real_open 0x%" PRIx64, dmar_base);
	REQUIRE(vtd_unit_get_info(drv_unit, &i) == 0, "info");
	CHECK_EQ(i.queued, drv_inval != VTD_INVAL_REGISTER);
	printf("  driver: %s mode, %s walks, CM %d, QI %d, CAP 0x%016" PRIx64
	       " ECAP 0x%016" PRIx64 "\n", i.scalable ? "scalable" : "legacy",
	       i.coherent ? "coherent" : "non-coherent", i.caching_mode,
	       i.queued, i.cap, i.ecap);
	vtd_domain_params_init(&dp);
	dp.addr_width = (unsigned int)o.aw;
	REQUIRE(vtd_domain_create(drv_unit, &dp, &drv_dom) == 0, "domain");
	CHECK_EQ(vtd_domain_width(drv_dom), (unsigned int)o.aw);
	CHECK_EQ(vtd_domain_map_flush(drv_dom), o.cm == 1);
	REQUIRE(vtd_attach(drv_dom, drv_unit, &ap) == 0, "attach edu");
	drv_q = vtd_qctx_get(drv_unit, rte_lcore_id());
	REQUIRE(drv_q != NULL, "qctx");
}

static void test_discovery_driver(void)
{
	struct vtd_unit_info i;

	REQUIRE(drv_unit != NULL, "no unit");
	REQUIRE(vtd_unit_get_info(drv_unit, &i) == 0, "info");
	if (o.have_cap)
		CHECK_EQ(i.cap, o.cap);
	if (o.have_ecap)
		CHECK_EQ(i.ecap, o.ecap);
	CHECK_EQ(i.ver, 0x10);
	CHECK_EQ(i.caching_mode, o.cm == 1);
	CHECK_EQ(i.scalable, o.scalable == 1);
	CHECK(i.widths & (1u << ((o.aw - 39) / 9)), "width %d not in 0x%x",
	      o.aw, i.widths);
	/* ECAP.C=0 on QEMU: the driver must flush table writes (a no-op
	 * under TCG, but the path runs). */
	CHECK(!i.coherent, "QEMU's walks are not coherent (ECAP.C=0)");
	CHECK(i.translation_enabled, "translation on");
	CHECK_EQ(i.fault_records, 1);
}

/* Reads the page at iova and says which data page (and generation) the
 * device saw: the first 8 bytes of every pattern name it. */
static int seen_page(uint64_t iova, uint64_t sink_iova, unsigned int sink,
		     unsigned int *pg, uint32_t *gen)
{
	if (dev_read_via(iova, 64, sink_iova, sink))
		return -ETIMEDOUT;
	memcpy(pg, page(sink), 4);
	memcpy(gen, page(sink) + 4, 4);
	return 0;
}

/* Pages: 0 sink, 1 A, 2 B. */
static void test_stale(void)
{
	unsigned int pg;
	uint32_t gen;

	REQUIRE(drv_dom != NULL, "no domain");
	fill(1, 1);
	fill(2, 2);
	REQUIRE(drv_map(IOVA_SINK, 0, VTD_PERM_WRITE) == 0, "map sink");
	REQUIRE(drv_map(IOVA_SRC, 1, VTD_PERM_READ) == 0, "map A");
	REQUIRE(seen_page(IOVA_SRC, IOVA_SINK, 0, &pg, &gen) == 0, "DMA");
	CHECK(pg == 1 && gen == 1, "through the fresh leaf edu read page %u "
	      "gen %u, expected A (1)", pg, gen);
	printf("  stale: IOVA 0x%" PRIx64 " -> A read A; QEMU now caches it\n",
	       IOVA_SRC);

	/* Point the leaf at B with no invalidation at all (neither the
	 * unmap's nor, under caching mode, the map's). */
	REQUIRE(drv_unmap_noinv(IOVA_SRC) == 0, "unmap");
	REQUIRE(vtd_map(drv_dom, IOVA_SRC, page_pa(2), PG, VTD_PERM_READ) == 0,
		"remap to B");
	REQUIRE(seen_page(IOVA_SRC, IOVA_SINK, 0, &pg, &gen) == 0, "DMA");
	CHECK(pg == 1, "leaf changed to B without invalidation: edu read page "
	      "%u; QEMU must still use the cached old leaf (A), else the rig "
	      "cannot catch a missing invalidation", pg);
	printf("  stale: leaf -> B, no invalidation: edu read page %u (%s)\n",
	       pg, pg == 1 ? "old A: stale, as the specification allows" : "?");

	/* The driver's page-selective invalidation: now B. */
	REQUIRE(drv_sync_range(IOVA_SRC, PG, 0) == 0, "invalidate");
	REQUIRE(seen_page(IOVA_SRC, IOVA_SINK, 0, &pg, &gen) == 0, "DMA");
	CHECK(pg == 2, "after the invalidation edu read page %u, expected B",
	      pg);
	printf("  stale: after PSI + wait: edu read page %u (B)\n", pg);

	/* An unmap without its invalidation still reaches the page... */
	REQUIRE(drv_unmap_noinv(IOVA_SRC) == 0, "unmap");
	REQUIRE(seen_page(IOVA_SRC, IOVA_SINK, 0, &pg, &gen) == 0, "DMA");
	CHECK(pg == 2, "unmapped without invalidation: edu read page %u, "
	      "expected the stale B", pg);
	CHECK(expect_fault(drain_driver, "stale unmap", IOVA_SRC, false) == 0,
	      "a fault for a cached translation");
	/* ...and after it, faults. */
	REQUIRE(drv_sync_range(IOVA_SRC, PG, 0) == 0, "invalidate");
	CHECK(read_faults(drain_driver, "after unmap+inv", IOVA_SRC) == 1,
	      "no fault after the unmap's invalidation completed");
	REQUIRE(drv_unmap_noinv(IOVA_SINK) == 0, "unmap sink");
	REQUIRE(drv_sync_range(IOVA_SINK, PG, 0) == 0, "invalidate");
}

/* A map after a fault at the same IOVA, with no invalidation at all.
 * CM=0: the unit caches no not-present entry (§6.1), so the driver makes
 * no map-side flush and the new leaf must be used at once. CM=1 allows
 * caching of not-present entries: the driver flushes maps there; whether
 * QEMU would notice a missing flush is printed (it does not cache failed
 * walks, so the rig cannot catch that bug: vtdemu's CM cache does).
 * Pages: 0 sink, 1 A. */
static void test_map_after_fault(void)
{
	unsigned int pg = UINT32_MAX;
	uint32_t gen;

	REQUIRE(drv_dom != NULL, "no domain");
	fill(1, 1);
	REQUIRE(drv_map(IOVA_SINK, 0, VTD_PERM_WRITE) == 0, "map sink");
	CHECK(read_faults(drain_driver, "before the map", IOVA_NP) == 1,
	      "an unmapped IOVA did not fault");
	REQUIRE(vtd_map(drv_dom, IOVA_NP, page_pa(1), PG, VTD_PERM_READ) == 0,
		"map");
	REQUIRE(seen_page(IOVA_NP, IOVA_SINK, 0, &pg, &gen) == 0, "DMA");
	if (o.cm == 0)
		CHECK(pg == 1, "CM=0: a fresh leaf after a fault was not used "
		      "(edu read page %u)", pg);
	printf("  map after fault, CM=%d, no invalidation: edu read page %u "
	       "(%s)\n", o.cm, pg, pg == 1 ? "QEMU cached no not-present "
	       "entry" : "a not-present entry was cached");
	/* Whatever happened, leave nothing cached or pending. */
	{
		struct flt f[8];

		(void)drain_driver(f, 8);
	}
	REQUIRE(drv_unmap_noinv(IOVA_NP) == 0 && drv_unmap_noinv(IOVA_SINK) == 0,
		"unmap");
	REQUIRE(drv_sync_range(0, 0, VTD_INV_FORCE_DSI) == 0, "flush");
}

/* Any one fault by edu, whatever the reason (a blocked context, say):
 * returns the reason, or -1 when nothing was recorded. */
static int any_fault(drain_fn drain, const char *what)
{
	struct flt f[8];
	int n = drain(f, 8);

	if (n <= 0)
		return -1;
	printf("  %s: fault drained: reason 0x%x (%s), requester %02x:%02x.%x, "
	       "address 0x%" PRIx64 "\n", what, f[0].reason,
	       f[0].why ? f[0].why : "?", f[0].sid >> 8, (f[0].sid >> 3) & 0x1f,
	       f[0].sid & 7, f[0].addr);
	CHECK_EQ(n, 1);
	CHECK_EQ(f[0].sid, EDU_RID);
	return f[0].reason;
}

/* Pass-through (ECAP.PT): edu detached from the second-stage domain and
 * attached to a pass-through one reaches physical addresses untranslated;
 * detached from it, every DMA is blocked and faults; attached back, the
 * second-stage mappings work again. Pages: 0 sink, 1 A (by PA, which
 * must then be below edu's 256 MiB). */
static void test_passthrough(void)
{
	struct vtd_attach_params ap = { .sid = EDU_RID, .pasid = VTD_NO_PASID };
	struct vtd_domain_params dp;
	struct vtd_domain *pt = NULL;
	struct vtd_unit_info i;
	unsigned int pg;
	uint32_t gen;
	int rc;

	REQUIRE(drv_dom != NULL, "no domain");
	REQUIRE(vtd_unit_get_info(drv_unit, &i) == 0 && i.pass_through,
		"QEMU's unit has ECAP.PT");
	if (page_pa(1) + PG > EDU_DMA_LIMIT || page_pa(0) + PG > EDU_DMA_LIMIT)
		SKIP_TEST("data pages above edu's 256 MiB: no untranslated DMA");
	fill(1, 7);
	REQUIRE(vtd_detach(drv_dom, drv_unit, EDU_RID) == 0, "detach");
	vtd_domain_params_init(&dp);
	dp.kind = VTD_DOMAIN_PASSTHROUGH;
	rc = vtd_domain_create(drv_unit, &dp, &pt);
	CHECK(rc == 0, "pass-through domain: %d", rc);
	if (rc == 0) {
		CHECK_EQ(vtd_attach(pt, drv_unit, &ap), 0);
		REQUIRE(seen_page(page_pa(1), page_pa(0), 0, &pg, &gen) == 0,
			"DMA");
		CHECK(pg == 1 && gen == 7, "pass-through: edu read page %u gen "
		      "%u at A's physical address", pg, gen);
		CHECK(any_fault(drain_driver, "pass-through") < 0,
		      "a fault in pass-through");
		printf("  pass-through: DMA at physical addresses: page %u\n",
		       pg);
		CHECK_EQ(vtd_detach(pt, drv_unit, EDU_RID), 0);
		CHECK_EQ(vtd_domain_destroy(pt), 0);
	}
	/* Detached from everything: blocked. */
	memset(page(0), 0x5A, PG);
	ndma++;
	REQUIRE(edu_dma(EDU_BUF, page_pa(0), 64, true) == 0, "DMA");
	rc = any_fault(drain_driver, "no domain");
	/* Context entry not present: 0x2 legacy, 0x41 scalable (Appendix A,
	 * SCT); QEMU 7.2 reports 0x2 in scalable mode too. */
	CHECK(rc == 0x2 || (o.scalable == 1 && rc == 0x41),
	      "a DMA of a detached device: fault reason %d", rc);
	CHECK(page(0)[0] == 0x5A, "a detached device wrote memory");
	/* Back on the second-stage domain. */
	REQUIRE(vtd_attach(drv_dom, drv_unit, &ap) == 0, "re-attach");
	REQUIRE(drv_map(IOVA_SINK, 0, VTD_PERM_WRITE) == 0, "map sink");
	REQUIRE(drv_map(IOVA_SRC, 1, VTD_PERM_READ) == 0, "map A");
	REQUIRE(seen_page(IOVA_SRC, IOVA_SINK, 0, &pg, &gen) == 0, "DMA");
	CHECK(pg == 1 && gen == 7, "re-attached: edu read page %u", pg);
	REQUIRE(drv_unmap_noinv(IOVA_SRC) == 0 && drv_unmap_noinv(IOVA_SINK) == 0,
		"unmap");
	REQUIRE(drv_sync_range(0, 0, VTD_INV_FORCE_DSI) == 0, "flush");
}

static struct vtd_desc bad_desc(void)
{
	/* An IOTLB invalidation with a reserved bit (qw0 bit 8, §6.5.2.3)
	 * set: the unit must stop at it with IQE (§6.5.2.10). */
	struct vtd_desc d = vtd_desc_iotlb(VTD_INV_DOMAIN, 1, 0, 0, 0, 0, 0);

	d.qw[0] |= VTD_BIT(8);
	return d;
}

static uint32_t fsts(void)
{
	volatile void *r = guest_map_phys(dmar_base, PG);
	uint32_t v;

	if (r == NULL)
		return UINT32_MAX;
	v = *(volatile uint32_t *)((volatile uint8_t *)r + VTD_REG_FSTS);
	guest_unmap_phys(r, PG);
	return v;
}

/* A batch of n descriptors with the bad one at pos: the wait reports
 * -EINVAL, the unit's IQE is cleared, and the queue goes on. */
static void iqe_batch(unsigned int pos, unsigned int n)
{
	struct vtd_qi_stats s0, s1;
	uint32_t seq;
	int dom_id = vtd_domain_id(drv_dom, drv_unit), rc;

	vtd_qi_stats_get(drv_unit, &s0);
	for (unsigned int i = 0; i < n; i++) {
		struct vtd_desc d = i == pos ? bad_desc() :
			vtd_desc_iotlb(VTD_INV_DOMAIN, (uint16_t)dom_id, 0, 0,
				       0, 0, 0);

		REQUIRE(vtd_qctx_add(drv_q, &d) == 0, "add");
	}
	REQUIRE(vtd_qctx_submit(drv_q, &seq) == 0, "submit");
	rc = vtd_qctx_wait(drv_q, seq);
	CHECK(rc == -EINVAL, "bad descriptor at %u of %u: wait returned %d, "
	      "expected -EINVAL", pos, n, rc);
	vtd_qi_stats_get(drv_unit, &s1);
	CHECK_EQ(s1.iqe - s0.iqe, 1);
	CHECK((fsts() & VTD_FSTS_IQE) == 0, "FSTS.IQE still set: 0x%x",
	      fsts());
	printf("  iqe: bad descriptor at %u of %u: wait %d, IQE recovered, "
	       "FSTS 0x%x\n", pos, n, rc, fsts());
}

/* Pages: 0 sink, 3 C, 4 D. */
static void test_iqe(void)
{
	unsigned int pg;
	uint32_t gen;
	int dom_id;

	REQUIRE(drv_dom != NULL, "no domain");
	dom_id = vtd_domain_id(drv_dom, drv_unit);
	REQUIRE(dom_id >= 0, "domain id");
	fill(3, 3);
	fill(4, 4);
	REQUIRE(drv_map(IOVA_SINK, 0, VTD_PERM_WRITE) == 0, "map sink");
	REQUIRE(drv_map(IOVA_SRC, 3, VTD_PERM_READ) == 0, "map C");
	REQUIRE(seen_page(IOVA_SRC, IOVA_SINK, 0, &pg, &gen) == 0, "DMA");
	CHECK_EQ(pg, 3);

	iqe_batch(0, 1);
	iqe_batch(1, 3);
	/* Later submissions complete... */
	for (unsigned int i = 0; i < 32; i++) {
		struct vtd_desc d = vtd_desc_iotlb(VTD_INV_DOMAIN,
						   (uint16_t)dom_id, 0, 0, 0,
						   0, 0);

		REQUIRE(vtd_qctx_add(drv_q, &d) == 0, "add");
		REQUIRE(vtd_qctx_sync(drv_q) == 0, "submission %u after IQE", i);
	}
	/* ...and take effect: the leaf moves to D, QEMU keeps C until the
	 * invalidation, then reads D. (The domain-selective invalidations
	 * above dropped C from QEMU's IOTLB: a DMA caches it again first.) */
	REQUIRE(seen_page(IOVA_SRC, IOVA_SINK, 0, &pg, &gen) == 0, "DMA");
	CHECK_EQ(pg, 3);
	REQUIRE(drv_unmap_noinv(IOVA_SRC) == 0, "unmap");
	REQUIRE(vtd_map(drv_dom, IOVA_SRC, page_pa(4), PG, VTD_PERM_READ) == 0,
		"remap");
	REQUIRE(seen_page(IOVA_SRC, IOVA_SINK, 0, &pg, &gen) == 0, "DMA");
	CHECK_EQ(pg, 3);
	REQUIRE(drv_sync_range(IOVA_SRC, PG, 0) == 0, "invalidate after IQE");
	REQUIRE(seen_page(IOVA_SRC, IOVA_SINK, 0, &pg, &gen) == 0, "DMA");
	CHECK(pg == 4, "the invalidation after IQE recovery did not take "
	      "effect: edu read page %u, expected 4", pg);
	printf("  iqe: 32 submissions completed after recovery; a PSI after "
	       "it takes effect (page %u)\n", pg);
	REQUIRE(drv_unmap_noinv(IOVA_SRC) == 0 &&
		drv_unmap_noinv(IOVA_SINK) == 0, "unmap");
	REQUIRE(drv_sync_range(0, 0, VTD_INV_FORCE_DSI) == 0, "flush");
}

/* The same unit with register-based invalidation (CCMD and the IOTLB
 * registers at ECAP.IRO, §6.5.1) instead of the queue: legacy mode only
 * (scalable mode requires queued invalidation, §6.5.2). */
static void test_reginv_open(void)
{
	if (o.scalable == 1)
		SKIP_TEST("scalable mode has no register-based invalidation");
	drv_inval = VTD_INVAL_REGISTER;
	test_driver_open();
}

static void test_reginv_stale(void)
{
	if (drv_inval != VTD_INVAL_REGISTER)
		SKIP_TEST("not in register-based mode");
	test_stale();
}

static void test_driver_close(void)
{
	struct vtd_qi_stats s;

	if (drv_unit == NULL)
		SKIP_TEST("no unit");
	vtd_qi_stats_get(drv_unit, &s);
	printf("  driver QI: %" PRIu64 " submits, %" PRIu64 " descriptors, %"
	       PRIu64 " IQT writes, %" PRIu64 " PSI, %" PRIu64 " DSI, %" PRIu64
	       " IQE, %" PRIu64 " timeouts\n", s.submits, s.descs, s.iqt_writes,
	       s.psi, s.dsi, s.iqe, s.timeouts);
	CHECK_EQ(s.timeouts, 0);
	if (drv_dom) {
		CHECK_EQ(vtd_detach(drv_dom, drv_unit, EDU_RID), 0);
		CHECK_EQ(vtd_domain_destroy(drv_dom), 0);
		drv_dom = NULL;
	}
	CHECK_EQ(vtd_unit_close(drv_unit), 0);
	drv_unit = NULL;
	CHECK((fsts() & VTD_FSTS_ERRORS) == 0, "FSTS 0x%x after close", fsts());
}

/* ---------------------------------------------------------------------------
 * Service scenarios: uvtd_init("dmar=sys"), edu opened by PCI address.
 */
static int svc_dev = -1;
static bool svc_up;

/* The lazy staleness bound of the stream's domains (a short one, so
 * that a check can wait it out). */
#define LAZY_BOUND_US 5000

static int svc_domain(enum uvtd_policy pol)
{
	struct uvtd_domain_conf c;
	int d;

	uvtd_domain_conf_init(&c);
	c.policy = pol;
	c.lazy_timeout_us = LAZY_BOUND_US;
	c.addr_width = (unsigned int)o.aw;
	c.iova_base = WIN_BASE;
	c.iova_size = WIN_SIZE;
	d = uvtd_domain_create(&c);
	if (d < 0)
		return d;
	if (uvtd_attach(d, svc_dev) != 0) {
		uvtd_domain_destroy(d);
		return -EIO;
	}
	return d;
}

static void svc_domain_done(int d)
{
	CHECK_EQ(uvtd_detach(d, svc_dev), 0);
	CHECK_EQ(uvtd_domain_destroy(d), 0);
}

static void test_service_open(void)
{
	struct uvtd_unit_info ui;

	REQUIRE(edu_ok && mem_ok, "set-up failed");
	REQUIRE(drv_unit == NULL, "the driver scenarios did not close the unit");
	REQUIRE(uvtd_init("dmar=sys") == 0, "uvtd_init(dmar=sys)");
	svc_up = true;
	CHECK_EQ(uvtd_unit_count(), 1);
	REQUIRE(uvtd_unit_info_get(0, &ui) == 0, "unit info");
	printf("  service: unit %s, emulated %d, CM %d, PSI %d, QI %d, width "
	       "%u\n", ui.name, ui.emulated, ui.caching_mode, ui.psi, ui.queued,
	       ui.max_width);
	CHECK(!ui.emulated, "the guest's unit is real");
	CHECK_EQ(ui.caching_mode, o.cm == 1);
	CHECK_EQ(ui.max_width, (unsigned int)o.aw);
	CHECK(ui.queued && ui.psi, "QEMU has QI and PSI");
	svc_dev = uvtd_dev_open_pci(EDU_PCI);
	REQUIRE(svc_dev >= 0, "uvtd_dev_open_pci(%s): %d", EDU_PCI, svc_dev);
	CHECK_EQ(uvtd_dev_unit(svc_dev), 0);
}

/* Pages: 0 sink, 5 A, 6 C (uvtd's IOVA), 8 and 7 the scattered pair,
 * 9 read-only. */
static void test_dma(void)
{
	uint64_t c_iova = 0;
	uint8_t expect[EDU_DMA_MAX];
	int d;

	REQUIRE(svc_dev >= 0, "no device");
	d = svc_domain(UVTD_POLICY_STRICT);
	REQUIRE(d >= 0, "domain: %d", d);
	for (unsigned int i = 5; i <= 9; i++)
		fill(i, 10 + i);
	CHECK_EQ(uvtd_map_fixed(d, IOVA_SINK, page_pa(0), PG, UVTD_PERM_WRITE), 0);
	CHECK_EQ(uvtd_map_fixed(d, IOVA_SRC, page_pa(5), PG, UVTD_PERM_READ), 0);
	CHECK_EQ(uvtd_map(d, page_pa(6), PG, UVTD_PERM_RW, &c_iova), 0);
	CHECK(c_iova >= WIN_BASE && c_iova + PG <= WIN_BASE + WIN_SIZE,
	      "uvtd's IOVA 0x%" PRIx64 " outside its window", c_iova);
	/* Two IOVA pages onto physical pages in the opposite order. */
	CHECK_EQ(uvtd_map_fixed(d, IOVA_SCAT, page_pa(8), PG, UVTD_PERM_READ), 0);
	CHECK_EQ(uvtd_map_fixed(d, IOVA_SCAT + PG, page_pa(7), PG,
				UVTD_PERM_READ), 0);
	CHECK_EQ(uvtd_map_fixed(d, IOVA_RO, page_pa(9), PG, UVTD_PERM_READ), 0);

	/* RAM (fixed IOVA) -> edu -> RAM (fixed IOVA). */
	REQUIRE(dev_read_via(IOVA_SRC, EDU_DMA_MAX, IOVA_SINK, 0) == 0, "DMA");
	CHECK(memcmp(page(0), page(5), EDU_DMA_MAX) == 0,
	      "fixed IOVA round trip differs");
	CHECK(page(0)[EDU_DMA_MAX] == 0xEE, "DMA wrote past its count");
	printf("  dma: RAM@0x%" PRIx64 " -> edu -> RAM@0x%" PRIx64 ": %u bytes "
	       "equal\n", IOVA_SRC, IOVA_SINK, EDU_DMA_MAX);

	/* edu -> RAM at the IOVA uvtd chose (the buffer still holds A), then
	 * RAM at that IOVA -> edu -> sink. */
	memset(page(6), 0, PG);
	REQUIRE(edu_dma(EDU_BUF, c_iova, EDU_DMA_MAX, true) == 0, "DMA");
	ndma++;
	CHECK(memcmp(page(6), page(5), EDU_DMA_MAX) == 0,
	      "edu -> RAM at uvtd's IOVA 0x%" PRIx64 " differs", c_iova);
	fill(6, 99);
	REQUIRE(dev_read_via(c_iova, EDU_DMA_MAX, IOVA_SINK, 0) == 0, "DMA");
	CHECK(memcmp(page(0), page(6), EDU_DMA_MAX) == 0,
	      "RAM at uvtd's IOVA -> edu differs");
	printf("  dma: edu <-> RAM at uvtd's IOVA 0x%" PRIx64 ": equal\n",
	       c_iova);

	/* Straddling two IOVA pages: 2 KiB of page 8, then page 7. */
	memcpy(expect, page(8) + PG / 2, PG / 2);
	memcpy(expect + PG / 2, page(7), EDU_DMA_MAX - PG / 2);
	REQUIRE(dev_read_via(IOVA_SCAT + PG / 2, EDU_DMA_MAX, IOVA_SINK, 0) == 0,
		"DMA");
	CHECK(memcmp(page(0), expect, EDU_DMA_MAX) == 0,
	      "a transfer across two IOVA pages did not follow both leaves");
	printf("  dma: across IOVA 0x%" PRIx64 " | 0x%" PRIx64 " -> pages 8 | 7:"
	       " equal\n", IOVA_SCAT, IOVA_SCAT + PG);

	/* A device write to a read-only mapping faults; the page keeps its
	 * bytes. */
	memcpy(expect, page(9), EDU_DMA_MAX);
	ndma++;
	REQUIRE(edu_dma(EDU_BUF, IOVA_RO, 256, true) == 0, "DMA");
	CHECK(expect_fault(drain_service, "write to read-only", IOVA_RO,
			   true) == 1, "no fault for a write to a read-only page");
	CHECK(memcmp(page(9), expect, EDU_DMA_MAX) == 0,
	      "a write to a read-only mapping changed the page");

	CHECK_EQ(uvtd_unmap(d, c_iova, PG), 0);
	svc_domain_done(d);
}

/* A 2 MiB leaf (CAP.SLLPS has 2 MiB on QEMU): 2 MiB aligned IOVA onto a
 * 2 MiB aligned hugepage. Reads in two of its 4 KiB pages, then the unmap
 * (one page-selective invalidation with AM 9) must make the whole 2 MiB
 * fault, also in pages the reads did not touch. Pages: 0 sink. */
static void test_dma_superpage(void)
{
	uint64_t hp_pa;
	uint8_t *hp;
	int d;

	REQUIRE(svc_dev >= 0, "no device");
	/* One hugepage of its own: a 2 MiB memzone would need more than one
	 * hugepage (its malloc header). EAL took only what it used. */
	hp = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		  MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE | MAP_LOCKED, -1, 0);
	REQUIRE(hp != MAP_FAILED, "a 2 MiB hugepage: %s", strerror(errno));
	hp_pa = guest_virt_to_phys(hp);
	if (hp_pa == 0 || (hp_pa & (SZ_2M - 1))) {
		munmap(hp, SZ_2M);
		REQUIRE(false, "hugepage PA 0x%" PRIx64, hp_pa);
	}
	for (size_t k = 0; k < SZ_2M; k += 8) {
		uint64_t v = (hp_pa + k) * 0x9E3779B97F4A7C15ull;

		memcpy(hp + k, &v, 8);
	}
	d = svc_domain(UVTD_POLICY_STRICT);
	REQUIRE(d >= 0, "domain: %d", d);
	CHECK_EQ(uvtd_map_fixed(d, IOVA_SINK, page_pa(0), PG, UVTD_PERM_WRITE), 0);
	CHECK_EQ(uvtd_map_fixed(d, IOVA_HUGE, hp_pa, SZ_2M, UVTD_PERM_READ), 0);
	/* Straddling the 1 MiB point, and the last page. */
	REQUIRE(dev_read_via(IOVA_HUGE + (1u << 20) - 1000, EDU_DMA_MAX,
			     IOVA_SINK, 0) == 0, "DMA");
	CHECK(memcmp(page(0), hp + (1u << 20) - 1000, EDU_DMA_MAX) == 0,
	      "2 MiB leaf: read at +1 MiB differs");
	REQUIRE(dev_read_via(IOVA_HUGE + SZ_2M - PG, EDU_DMA_MAX, IOVA_SINK,
			     0) == 0, "DMA");
	CHECK(memcmp(page(0), hp + SZ_2M - PG, EDU_DMA_MAX) == 0,
	      "2 MiB leaf: read of the last page differs");
	printf("  dma: 2 MiB leaf at IOVA 0x%" PRIx64 " -> PA 0x%" PRIx64
	       ": reads at +1 MiB and at the last page equal\n", IOVA_HUGE,
	       hp_pa);
	CHECK_EQ(uvtd_unmap(d, IOVA_HUGE, SZ_2M), 0);
	CHECK(read_faults(drain_service, "2 MiB unmapped, page read before",
			  IOVA_HUGE + SZ_2M - PG) == 1, "no fault");
	CHECK(read_faults(drain_service, "2 MiB unmapped, page never read",
			  IOVA_HUGE + 0x5000) == 1, "no fault");
	svc_domain_done(d);
	munmap(hp, SZ_2M);
}

/* Pages: 0 sink, 10 F. */
static void test_fault(void)
{
	uint8_t keep[PG];
	int d;

	REQUIRE(svc_dev >= 0, "no device");
	d = svc_domain(UVTD_POLICY_STRICT);
	REQUIRE(d >= 0, "domain: %d", d);
	fill(10, 10);
	CHECK_EQ(uvtd_map_fixed(d, IOVA_SINK, page_pa(0), PG, UVTD_PERM_WRITE), 0);
	CHECK_EQ(uvtd_map_fixed(d, IOVA_FAULT, page_pa(10), PG, UVTD_PERM_RW), 0);
	/* A DMA through it first, so that QEMU caches the translation: the
	 * fault below then needs the unmap's invalidation. */
	REQUIRE(dev_read_via(IOVA_FAULT, 512, IOVA_SINK, 0) == 0, "DMA");
	CHECK(memcmp(page(0), page(10), 512) == 0, "mapped page read");
	CHECK_EQ(uvtd_unmap(d, IOVA_FAULT, PG), 0);

	CHECK(read_faults(drain_service, "read after unmap", IOVA_FAULT + 0x100)
	      == 1, "a read of an unmapped IOVA did not fault");
	memcpy(keep, page(10), PG);
	ndma++;
	REQUIRE(edu_dma(EDU_BUF, IOVA_FAULT + 0x200, 128, true) == 0, "DMA");
	CHECK(expect_fault(drain_service, "write after unmap",
			   IOVA_FAULT + 0x200, true) == 1,
	      "a write to an unmapped IOVA did not fault");
	CHECK(memcmp(keep, page(10), PG) == 0, "the unmapped page changed");
	/* Nothing else pending, and the unit still translates. */
	CHECK(expect_fault(drain_service, "after", 0, false) == 0,
	      "a fault record left over");
	CHECK_EQ(uvtd_map_fixed(d, IOVA_FAULT, page_pa(10), PG, UVTD_PERM_READ), 0);
	REQUIRE(dev_read_via(IOVA_FAULT, 512, IOVA_SINK, 0) == 0, "DMA");
	CHECK(memcmp(page(0), page(10), 512) == 0, "remapped page read");
	svc_domain_done(d);
}

/* ---------------------------------------------------------------------------
 * The stream
 */
#define LIVE_MAX 24
#define BURST 6

struct live {
	uint64_t iova, len;
	unsigned int pg;          /* first data page */
	bool fixed;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

struct stream {
	int dom;
	enum uvtd_policy pol;
	struct live live[LIVE_MAX];
	unsigned int nlive;
	unsigned long ops, unmaps, checked_unmaps, checked_live, violations;
	unsigned long unmap_calls;    /* unmaps or bursts of them */
	unsigned int sample_every;    /* one call in this many is checked */
	uint64_t next_fixed;
};

/* Data pages of the stream: 16..NPAGES-1; page 11 the sink. */
#define S_SINK 11
#define S_FIRST 16

static int s_map(struct stream *s, struct live *l)
{
	unsigned int n = 1 + (unsigned int)(rnd() % 3);

	l->len = (uint64_t)n * PG;
	l->pg = S_FIRST + (unsigned int)(rnd() % (NPAGES - S_FIRST - n));
	/* One map in eight at a fixed IOVA, the rest where uvtd chooses. */
	l->fixed = rnd() % 8 == 0;
	if (l->fixed) {
		l->iova = s->next_fixed;
		s->next_fixed += l->len + PG;
		return uvtd_map_fixed(s->dom, l->iova, page_pa(l->pg), l->len,
				      UVTD_PERM_READ);
	}
	return uvtd_map(s->dom, page_pa(l->pg), l->len, UVTD_PERM_READ,
			&l->iova);
}

/* A live mapping reads its own page (the last page of it, to exercise
 * more than the first leaf). */
static void s_check_live(struct stream *s, const struct live *l)
{
	uint64_t off = l->len - PG;
	unsigned int want_pg = l->pg + (unsigned int)(off / PG);

	s->checked_live++;
	if (dev_read_via(l->iova + off, 256, IOVA_SINK, S_SINK)) {
		CHECK(false, "DMA timed out");
		return;
	}
	if (memcmp(page(S_SINK), page(want_pg), 256) != 0) {
		unsigned int got;

		memcpy(&got, page(S_SINK), 4);
		s->violations++;
		CHECK(false, "%s: live IOVA 0x%" PRIx64 " read page %u, expected "
		      "%u (a stale translation: IOVA reused before its "
		      "invalidation completed?)", uvtd_policy_name(s->pol),
		      l->iova + off, got, want_pg);
	}
}

/* After a completed unmap of l: a device read of each of its pages must
 * fault. Returns how many did not (a DMA reached an unmapped page). */
static unsigned int s_check_unmapped(struct stream *s, const struct live *l,
				     bool report)
{
	/* The last page, which s_check_live read (so QEMU caches it), and
	 * the first one of a longer mapping. */
	const uint64_t offs[2] = { l->len - PG, 0 };
	unsigned int reached = 0, n = l->len > PG ? 2 : 1;

	s->checked_unmaps++;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t iova = l->iova + offs[i];

		if (read_faults(drain_service, "unmapped", iova) == 1)
			continue;
		reached++;
		if (report)
			CHECK(false, "%s: DMA reached IOVA 0x%" PRIx64 " after "
			      "its unmap completed", uvtd_policy_name(s->pol),
			      iova);
	}
	return reached;
}

/* The unmap side of the stream, by policy; sampled ones are checked.
 * A sampled mapping is DMA-read (cached by QEMU) right before its unmap,
 * so that only the invalidation can make the next read fault. */
static void s_unmap_some(struct stream *s)
{
	struct live gone[BURST];
	struct uvtd_unmap_req req[BURST];
	unsigned int n = 1, sampled = UINT32_MAX;
	int rc;

	if (s->pol == UVTD_POLICY_BATCHED)
		n = 1 + (unsigned int)(rnd() % BURST);
	n = RTE_MIN(n, s->nlive);
	for (unsigned int i = 0; i < n; i++) {
		unsigned int k = (unsigned int)(rnd() % s->nlive);

		gone[i] = s->live[k];
		s->live[k] = s->live[--s->nlive];
		req[i] = (struct uvtd_unmap_req){ gone[i].iova, gone[i].len };
	}
	if (s->unmap_calls++ % s->sample_every == 0) {
		sampled = (unsigned int)(rnd() % n);
		s_check_live(s, &gone[sampled]);
	}
	if (s->pol == UVTD_POLICY_BATCHED) {
		rc = uvtd_unmap_burst(s->dom, req, n);
		CHECK(rc == (int)n, "unmap burst of %u: %d", n, rc);
	} else {
		rc = uvtd_unmap(s->dom, req[0].iova, req[0].len);
		CHECK(rc == 0, "unmap 0x%" PRIx64 ": %d", req[0].iova, rc);
	}
	s->unmaps += n;
	s->ops += n;
	if (sampled == UINT32_MAX)
		return;
	/* Lazy: the unmap has completed once uvtd_flush returned, or once
	 * its time bound passed and the lcore polled (uvtd.h): both ways,
	 * in turn. */
	if (s->pol == UVTD_POLICY_LAZY) {
		/* The first sample, before completion: the queued IOVA is
		 * still cached, the DMA reaches the page (bounded staleness,
		 * allowed). So the fault after the flush below is the
		 * flush's doing: the check can tell. */
		if (s->checked_unmaps == 0) {
			unsigned int reached = s_check_unmapped(s, &gone[sampled],
								false);

			s->checked_unmaps--;
			CHECK(reached > 0, "lazy: a DMA right after the unmap "
			      "faulted: the check would not see a missing flush");
			printf("  lazy: before completion the DMA %s the "
			       "unmapped page (allowed)\n",
			       reached ? "still reached" : "did NOT reach");
		}
		if (s->checked_unmaps % 2 == 0) {
			CHECK_EQ(uvtd_flush(s->dom), 0);
		} else {
			usleep(LAZY_BOUND_US * 2);
			CHECK(uvtd_poll() >= 0, "uvtd_poll");
		}
	}
	s->violations += s_check_unmapped(s, &gone[sampled], true);
}

static void s_map_some(struct stream *s)
{
	unsigned int n = 1;

	if (s->pol == UVTD_POLICY_BATCHED)
		n = 1 + (unsigned int)(rnd() % BURST);
	n = RTE_MIN(n, LIVE_MAX - s->nlive);
	if (s->pol == UVTD_POLICY_BATCHED) {
		struct uvtd_map_req req[BURST];
		int rc;

		for (unsigned int i = 0; i < n; i++) {
			unsigned int c = 1 + (unsigned int)(rnd() % 3);
			unsigned int pg = S_FIRST +
				(unsigned int)(rnd() % (NPAGES - S_FIRST - c));

			req[i] = (struct uvtd_map_req){ page_pa(pg),
				(uint64_t)c * PG, UVTD_PERM_READ, 0 };
		}
		rc = uvtd_map_burst(s->dom, req, n);
		CHECK(rc == (int)n, "map burst of %u: %d", n, rc);
		for (unsigned int i = 0; rc == (int)n && i < n; i++)
			s->live[s->nlive++] = (struct live){ req[i].iova,
				req[i].len,
				(unsigned int)((req[i].phys - pages_pa) / PG),
				false };
		s->ops += n;
		return;
	}
	{
		struct live l;
		int rc = s_map(s, &l);

		CHECK(rc == 0, "map: %d", rc);
		if (rc == 0)
			s->live[s->nlive++] = l;
		s->ops++;
	}
}

static void stream_run(enum uvtd_policy pol)
{
	struct stream s = { .pol = pol, .sample_every = 10,
			    .next_fixed = IOVA_SRC + (UINT64_C(1) << 20) };
	uint64_t t0 = guest_now_ns();
	unsigned long dma0 = ndma;

	s.dom = svc_domain(pol);
	REQUIRE(s.dom >= 0, "domain %s: %d", uvtd_policy_name(pol), s.dom);
	CHECK_EQ(uvtd_domain_policy(s.dom), pol);
	REQUIRE(uvtd_map_fixed(s.dom, IOVA_SINK, page_pa(S_SINK), PG,
			       UVTD_PERM_WRITE) == 0, "sink");
	if (pol == UVTD_POLICY_BATCHED)
		s.sample_every = 3;       /* about BURST/2 unmaps a burst */
	while (s.ops < o.stream_ops && uvtd_test_state.current_failed == 0) {
		bool do_map = s.nlive == 0 ||
			      (s.nlive < LIVE_MAX && rnd() % 100 < 55);

		if (do_map) {
			s_map_some(&s);
			/* Now and then a live mapping, often at an IOVA just
			 * recycled, must read its own page. */
			if (s.nlive && rnd() % 40 == 0)
				s_check_live(&s, &s.live[s.nlive - 1]);
		} else {
			s_unmap_some(&s);
		}
	}
	while (s.nlive) {
		struct live l = s.live[--s.nlive];

		CHECK_EQ(uvtd_unmap(s.dom, l.iova, l.len), 0);
		s.ops++;
	}
	CHECK_EQ(uvtd_flush(s.dom), 0);
	printf("  stream %-7s: %lu map/unmap ops, %lu unmaps; DMA-checked %lu "
	       "completed unmaps and %lu live mappings (%lu DMAs, %.1f s): %lu "
	       "violations\n", uvtd_policy_name(pol), s.ops, s.unmaps,
	       s.checked_unmaps, s.checked_live, ndma - dma0,
	       (guest_now_ns() - t0) / 1e9, s.violations);
	CHECK(s.checked_unmaps >= 5, "too few sampled unmaps: %lu",
	      s.checked_unmaps);
	CHECK_EQ(s.violations, 0);
	svc_domain_done(s.dom);
}

static void test_stream_strict(void)
{
	REQUIRE(svc_dev >= 0, "no device");
	stream_run(UVTD_POLICY_STRICT);
}

static void test_stream_batched(void)
{
	REQUIRE(svc_dev >= 0, "no device");
	stream_run(UVTD_POLICY_BATCHED);
}

static void test_stream_lazy(void)
{
	REQUIRE(svc_dev >= 0, "no device");
	stream_run(UVTD_POLICY_LAZY);
}

/* The planted bug: unmaps that skip their invalidation. The same check
 * (a sampled, cached IOVA must fault after its unmap) must see the DMA
 * reach the page. */
static void test_stream_planted_bug(void)
{
	struct stream s = { .pol = UVTD_POLICY_STRICT };
	struct live l = { .len = PG, .pg = S_FIRST };
	unsigned int reached;

	REQUIRE(svc_dev >= 0, "no device");
	s.dom = svc_domain(UVTD_POLICY_STRICT);
	REQUIRE(s.dom >= 0, "domain: %d", s.dom);
	REQUIRE(uvtd_map_fixed(s.dom, IOVA_SINK, page_pa(S_SINK), PG,
			       UVTD_PERM_WRITE) == 0, "sink");
	REQUIRE(uvtd_debug_skip_unmap_invalidation(s.dom, true) == 0, "plant");
	REQUIRE(uvtd_map(s.dom, page_pa(l.pg), l.len, UVTD_PERM_READ,
			 &l.iova) == 0, "map");
	s_check_live(&s, &l);
	CHECK_EQ(uvtd_unmap(s.dom, l.iova, l.len), 0);
	reached = s_check_unmapped(&s, &l, false);
	CHECK(reached == 1, "with unmap invalidations skipped, the check did "
	      "not see the DMA reach the unmapped page: it cannot catch the bug");
	printf("  planted bug (unmap without invalidation): the check %s\n",
	       reached ? "caught it (DMA reached the unmapped page)" :
	       "MISSED it");
	REQUIRE(uvtd_debug_skip_unmap_invalidation(s.dom, false) == 0, "unplant");
	/* Detach invalidates the domain (context cache and IOTLB). */
	svc_domain_done(s.dom);
}

static void test_service_close(void)
{
	struct uvtd_stats st;

	if (!svc_up)
		SKIP_TEST("service not started");
	if (uvtd_stats_get(&st) == 0)
		printf("  service: %" PRIu64 " maps, %" PRIu64 " unmaps, %" PRIu64
		       " waits, %" PRIu64 " IQT writes, %" PRIu64 " PSI, %"
		       PRIu64 " DSI, %" PRIu64 " timeouts, %" PRIu64
		       " rejected\n", st.maps, st.unmaps, st.waits,
		       st.iqt_writes, st.psi, st.dsi, st.timeouts, st.rejected);
	if (svc_dev >= 0)
		CHECK_EQ(uvtd_dev_close(svc_dev), 0);
	CHECK_EQ(uvtd_fini(), 0);
	svc_up = false;
}


/* ---------------------------------------------------------------------------
 * Lifecycle: what a closed uvtd leaves on the unit, across processes.
 */
#define IOVA_LIFE   (IOVA_SRC + 0x60000)
#define LIFE_PAGE   10            /* data page the runs map at IOVA_LIFE */
#define LIFE_CHILD_NS (UINT64_C(90) * 1000000000)
/* The rig mounts hugetlbfs (2 MiB pages) here; the driver's file name
 * (drivers/iommu/vtd/vtd_regs.c) carries the unit's register base. */
#define BLOCKING_FMT "/dev/hugepages/uvtd-blocking-root-%" PRIx64

/* The blocking root table's physical address, found independently of the
 * driver: its file mapped, pagemap asked. 0 when there is none; *zero
 * says whether its 4 KiB (256 root entries) are all zero. */
static uint64_t blocking_pa(bool *zero)
{
	char path[128];
	uint64_t pa = 0;
	void *va;
	int fd;

	snprintf(path, sizeof(path), BLOCKING_FMT, dmar_base);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	va = mmap(NULL, SZ_2M, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (va == MAP_FAILED)
		return 0;
	*zero = true;
	for (unsigned int i = 0; i < PG / 8; i++)
		if (((const volatile uint64_t *)va)[i] != 0)
			*zero = false;
	pa = guest_virt_to_phys(va);
	munmap(va, SZ_2M);
	return pa;
}

static uint64_t reg64(unsigned int off)
{
	volatile void *r = guest_map_phys(dmar_base, PG);
	uint64_t v;

	if (r == NULL)
		return UINT64_MAX;
	v = *(volatile uint64_t *)((volatile uint8_t *)r + off);
	guest_unmap_phys(r, PG);
	return v;
}

/* The unit as a closed uvtd must leave it: translating, queue off, RTADDR
 * on the blocking root table (whose entries are all not present). */
static void check_parked(const char *when)
{
	uint32_t gsts = (uint32_t)reg64(VTD_REG_GSTS);
	uint64_t rta = reg64(VTD_REG_RTADDR);
	bool zero = false;
	uint64_t pa = blocking_pa(&zero);

	printf("  lifecycle %s: GSTS 0x%08x, RTADDR 0x%" PRIx64 ", blocking "
	       "root table at 0x%" PRIx64 "%s\n", when, gsts, rta, pa,
	       zero ? " (all not present)" : "");
	CHECK(gsts & VTD_GSTS_TES, "%s: translation off (DMA would pass "
	      "untranslated)", when);
	CHECK(!(gsts & VTD_GSTS_QIES), "%s: queued invalidation left on",
	      when);
	CHECK(pa != 0, "%s: no blocking root table file " BLOCKING_FMT, when,
	      dmar_base);
	CHECK((rta & VTD_PAGE_MASK) == pa, "%s: RTADDR 0x%" PRIx64 " is not "
	      "the blocking root table 0x%" PRIx64 ": the unit walks memory "
	      "nobody owns", when, rta, pa);
	CHECK(zero, "%s: the blocking root table has present entries", when);
}

/* Runs this program again as lifecycle child run (its own EAL, file
 * prefix and service); returns its exit status, -1 when it died or hung
 * (then it is killed, by its PID). */
static int life_child(int run)
{
	char prefix[32], cm[4], aw[4], sc[4], rn[4];
	char *argv[] = { "uvtd-e2e", "--no-pci", "--iova-mode=pa",
			 "--file-prefix", prefix, "-l", "0", "--",
			 "--cm", cm, "--aw", aw, "--scalable", sc,
			 "--lifecycle-run", rn, NULL };
	uint64_t t0 = guest_now_ns();
	int st = 0;
	pid_t pid;

	snprintf(prefix, sizeof(prefix), "e2e-life%d", run);
	snprintf(cm, sizeof(cm), "%d", o.cm);
	snprintf(aw, sizeof(aw), "%d", o.aw);
	snprintf(sc, sizeof(sc), "%d", o.scalable);
	snprintf(rn, sizeof(rn), "%d", run);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 || guest_now_ns() - t0 > LIFE_CHILD_NS) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(20000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A child run: the service on the unit as it was left, one mapping that
 * edu reads through, then close. Run 3 finds the unit on a root table
 * that is not uvtd's: refused without force, taken with force=1. */
static void test_life_run(void)
{
	struct uvtd_unit_info ui;
	unsigned int pg;
	uint32_t gen;
	int d;

	REQUIRE(edu_ok && mem_ok, "set-up failed");
	if (o.life_run == 3) {
		CHECK_EQ(uvtd_init("dmar=sys"), -EBUSY);
		REQUIRE(uvtd_init("dmar=sys,force=1") == 0,
			"uvtd_init(dmar=sys,force=1)");
	} else {
		REQUIRE(uvtd_init("dmar=sys") == 0, "run %d: uvtd_init(dmar=sys) "
			"without force", o.life_run);
	}
	svc_up = true;
	REQUIRE(uvtd_unit_info_get(0, &ui) == 0, "unit info");
	CHECK(!ui.emulated, "the guest's unit is real");
	svc_dev = uvtd_dev_open_pci(EDU_PCI);
	REQUIRE(svc_dev >= 0, "uvtd_dev_open_pci(%s): %d", EDU_PCI, svc_dev);
	d = svc_domain(UVTD_POLICY_STRICT);
	REQUIRE(d >= 0, "domain: %d", d);
	fill(LIFE_PAGE, 40 + (uint32_t)o.life_run);
	REQUIRE(uvtd_map_fixed(d, IOVA_SINK, page_pa(0), PG,
			       UVTD_PERM_WRITE) == 0, "map sink");
	REQUIRE(uvtd_map_fixed(d, IOVA_LIFE, page_pa(LIFE_PAGE), PG,
			       UVTD_PERM_READ) == 0, "map");
	REQUIRE(seen_page(IOVA_LIFE, IOVA_SINK, 0, &pg, &gen) == 0, "DMA");
	CHECK(pg == LIFE_PAGE && gen == 40u + (uint32_t)o.life_run,
	      "run %d: edu read page %u gen %u through the new mapping",
	      o.life_run, pg, gen);
	CHECK(read_faults(drain_service, "run's own fault check",
			  IOVA_LIFE + PG) == 1, "an unmapped IOVA did not fault");
	printf("  lifecycle run %d: mapped IOVA 0x%" PRIx64 ", edu read page "
	       "%u gen %u; closing (the mapping stays until uvtd_fini)\n",
	       o.life_run, IOVA_LIFE, pg, gen);
	/* Close with the mapping live: uvtd_fini unmaps, detaches and parks
	 * the unit. */
	CHECK_EQ(uvtd_fini(), 0);
	svc_up = false;
	svc_dev = -1;
	check_parked("after close, in the closing process");
}

/* Reads the unit's one fault record (CAP.FRO) straight from the registers
 * and clears it (FRCD.F is RW1C, §11.4.14): the reason, -1 when none. */
static int life_fault(uint16_t *sid, bool *write)
{
	uint64_t cap = reg64(VTD_REG_CAP);
	unsigned int fro = (unsigned int)VTD_CAP_FRO(cap);
	volatile uint8_t *r;
	uint64_t hi;
	int reason = -1;

	if (fro + 16 > PG || (r = guest_map_phys(dmar_base, PG)) == NULL)
		return -1;
	hi = *(volatile uint64_t *)(r + fro + 8);
	if (hi & VTD_FRCD_HI_F) {
		reason = (int)VTD_FRCD_HI_FR(hi);
		*sid = (uint16_t)VTD_FRCD_HI_SID(hi);
		*write = !(hi & VTD_FRCD_HI_T);
		*(volatile uint32_t *)(r + fro + 12) = 0x80000000u;
	}
	guest_unmap_phys((volatile void *)r, PG);
	return reason;
}

static void test_lifecycle(void)
{
	volatile uint8_t *r;
	uint16_t sid = 0;
	bool write = false;
	uint64_t before, rta;
	int rc;

	REQUIRE(edu_ok && mem_ok && dmar_base, "set-up failed");
	REQUIRE(drv_unit == NULL && !svc_up, "the unit is still open here");
	/* Run 1 maps IOVA_LIFE and exits: its memory goes back to the
	 * kernel. */
	rc = life_child(1);
	CHECK(rc == 0, "lifecycle run 1 exited with %d", rc);
	check_parked("after run 1 exited");

	/* What run 1 mapped is blocked: a device write there faults at the
	 * root table (every entry not present). */
	for (int i = 0; i < 8 && life_fault(&sid, &write) >= 0; i++)
		;
	ndma++;
	REQUIRE(edu_dma(EDU_BUF, IOVA_LIFE, 64, true) == 0, "DMA");
	rc = life_fault(&sid, &write);
	printf("  lifecycle: edu write to run 1's IOVA 0x%" PRIx64 ": fault "
	       "reason %d, requester %04x, %s\n", IOVA_LIFE, rc, sid,
	       write ? "write" : "read");
	/* Root entry not present: 0x1 (legacy; QEMU reports it in scalable
	 * mode too), 0x30-0x3f in scalable mode (Appendix A, SCT). */
	CHECK(rc == 0x1 || (o.scalable == 1 && rc >= 0x30 && rc <= 0x3f),
	      "edu's DMA to run 1's IOVA after run 1 exited: fault reason %d, "
	      "expected root entry not present", rc);
	CHECK_EQ(sid, EDU_RID);
	CHECK(write, "the fault is the device write");

	/* Run 2: a second process in the same boot takes the unit over
	 * without force, and its mapping works. */
	rc = life_child(2);
	CHECK(rc == 0, "lifecycle run 2 exited with %d", rc);
	check_parked("after run 2 exited");

	/* RTADDR moved off the blocking table (a zeroed page of ours, so DMA
	 * stays blocked): no longer uvtd's state, so run 3 must be refused
	 * without force and get the unit with force=1. */
	memset(page(NPAGES - 1), 0, PG);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	before = reg64(VTD_REG_RTADDR);
	r = guest_map_phys(dmar_base, PG);
	REQUIRE(r != NULL, "map the unit");
	*(volatile uint64_t *)(r + VTD_REG_RTADDR) =
		page_pa(NPAGES - 1) | (before & ~VTD_PAGE_MASK);
	/* GCMD: TE (persistent, still on) with the one-shot SRTP. */
	*(volatile uint32_t *)(r + VTD_REG_GCMD) = VTD_GCMD_TE | VTD_GCMD_SRTP;
	for (int i = 0; i < 1000 &&
	     !(*(volatile uint32_t *)(r + VTD_REG_GSTS) & VTD_GSTS_RTPS); i++)
		usleep(1000);
	guest_unmap_phys((volatile void *)r, PG);
	rta = reg64(VTD_REG_RTADDR);
	CHECK((rta & VTD_PAGE_MASK) == page_pa(NPAGES - 1), "RTADDR 0x%" PRIx64
	      " after moving it", rta);
	rc = life_child(3);
	CHECK(rc == 0, "lifecycle run 3 exited with %d", rc);
	check_parked("after run 3 exited");
}

/* ---------------------------------------------------------------------------
 */
static int parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cm", required_argument, NULL, 'c' },
		{ "aw", required_argument, NULL, 'a' },
		{ "scalable", required_argument, NULL, 's' },
		{ "cap", required_argument, NULL, 'C' },
		{ "ecap", required_argument, NULL, 'E' },
		{ "scenarios", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 'r' },
		{ "stream-ops", required_argument, NULL, 'o' },
		{ "lifecycle-run", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	snprintf(o.scenarios, sizeof(o.scenarios), "all");
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o.cm = atoi(optarg); break;
		case 'a': o.aw = atoi(optarg); break;
		case 's': o.scalable = atoi(optarg); break;
		case 'C': o.cap = strtoull(optarg, NULL, 16); o.have_cap = true; break;
		case 'E': o.ecap = strtoull(optarg, NULL, 16); o.have_ecap = true; break;
		case 'S': snprintf(o.scenarios, sizeof(o.scenarios), "%s", optarg); break;
		case 'r': o.seed = strtoull(optarg, NULL, 0); break;
		case 'o': o.stream_ops = strtoul(optarg, NULL, 0); break;
		case 'L': o.life_run = atoi(optarg); break;
		default: return -EINVAL;
		}
	}
	if ((o.cm != 0 && o.cm != 1) || (o.aw != 39 && o.aw != 48) ||
	    (o.scalable != 0 && o.scalable != 1) || optind != argc ||
	    o.life_run < 0 || o.life_run > 3) {
		fprintf(stderr, "usage: uvtd-e2e <EAL args> -- --cm 0|1 --aw 39|48 "
			"--scalable 0|1 [--cap HEX --ecap HEX] [--scenarios "
			"discovery,stale,reginv,iqe,passthrough,dma,fault,stream,lifecycle|all] "
			"[--seed N] [--stream-ops N] [--lifecycle-run 1|2|3]\n");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int n = rte_eal_init(argc, argv), rc;
	bool drv = false;

	if (n < 0) {
		fprintf(stderr, "uvtd-e2e: rte_eal_init: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	if (parse(argc - n, argv + n)) {
		rte_eal_cleanup();
		return 2;
	}
	rng_state = o.seed * 0x9E3779B97F4A7C15ull | 1;
	printf("uvtd-e2e: CM %d, aw %d, %s mode, scenarios %s, seed %" PRIu64
	       "\n", o.cm, o.aw, o.scalable ? "scalable" : "legacy",
	       o.scenarios, o.seed);
	RUN(test_setup);
	if (o.life_run) {
		/* A lifecycle child (test_lifecycle runs it). */
		RUN(test_life_run);
		rc = TEST_SUMMARY();
		rte_eal_cleanup();
		return rc;
	}
	drv = want("discovery") || want("stale") || want("iqe") ||
	      want("passthrough");
	if (drv) {
		RUN(test_driver_open);
		if (want("discovery"))
			RUN(test_discovery_driver);
		if (want("stale")) {
			RUN(test_stale);
			RUN(test_map_after_fault);
		}
		if (want("iqe"))
			RUN(test_iqe);
		if (want("passthrough"))
			RUN(test_passthrough);
		RUN(test_driver_close);
	}
	if (want("reginv")) {
		RUN(test_reginv_open);
		if (drv_unit != NULL) {
			RUN(test_reginv_stale);
			RUN(test_driver_close);
		}
	}
	if (want("discovery") || want("dma") || want("fault") ||
	    want("stream")) {
		RUN(test_service_open);
		if (want("dma")) {
			RUN(test_dma);
			RUN(test_dma_superpage);
		}
		if (want("fault"))
			RUN(test_fault);
		if (want("stream")) {
			RUN(test_stream_strict);
			RUN(test_stream_batched);
			RUN(test_stream_lazy);
			RUN(test_stream_planted_bug);
		}
		RUN(test_service_close);
	}
	if (want("lifecycle"))
		RUN(test_lifecycle);
	printf("uvtd-e2e: %lu edu DMAs\n", ndma);
	rc = TEST_SUMMARY();
	if (bar0)
		munmap((void *)(uintptr_t)bar0, bar0_len);
	rte_eal_cleanup();
	return rc;
}
