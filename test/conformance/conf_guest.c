/* SPDX-License-Identifier: BSD-3-Clause
 * conf-guest: the conformance cases against QEMU's intel-iommu, inside the
 * rig's guest (test/qemu/rig). Never run it on the host: it opens /dev/mem
 * (guest_map_phys refuses unless UVTD_GUEST=1, which only the rig's guest
 * sets) and drives the edu device.
 *
 *   conf-guest [--name NAME] [--only SUBSTR] [-v]
 *
 * The unit: the first DRHD of the ACPI DMAR table, its register page
 * mapped through /dev/mem. The kernel runs with intel_iommu=off, so
 * nobody else touches it. One unit serves every case, so before each case
 * it is brought back to a known state (translation and the queue off,
 * status and fault records clear); a case that cannot be reset fails.
 *
 * Memory: the hugepages the rig reserved, with physical addresses from
 * /proc/self/pagemap; never reused between cases, so that nothing an
 * earlier case left in QEMU's caches can point into a later case's tables.
 *
 * DMA: edu (1234:11e8 at 00:01.0, requester id 0x0008). One transfer takes
 * about 100 ms of guest time. Boot QEMU with edu,dma_mask=0xffffffffffffffff
 * (the rig's --devices) so that IOVAs are not clamped to 28 bits.
 */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/iommu/vtd/vtd_hw.h"
#include "guest_util.h"

#define HUGE_2M (2ull << 20)
#define MAX_HUGE 64

/* edu (QEMU docs/specs/edu.txt). */
#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 0x1
#define EDU_CMD_TO_RAM 0x2
#define EDU_BUF 0x40000
#define PCI_CMD_MEMORY 0x2
#define PCI_CMD_MASTER 0x4
#define DMA_TIMEOUT_NS (5ull * 1000000000)
#define RESET_TIMEOUT_NS (2ull * 1000000000)

struct hugepage {
	uint8_t *va;
	uint64_t pa;
	uint64_t used;
};

static struct {
	volatile uint8_t *regs;
	size_t regs_len;
	struct hugepage hp[MAX_HUGE];
	unsigned int nhp;
	volatile uint8_t *bar0;
	size_t bar0_len;
	uint64_t scratch_pa;
	volatile uint32_t *scratch;
	/* The last value written to IQA: QEMU 7.2 takes IQA.DW from every
	 * IQA write but never returns DW on a read (see
	 * docs/qemu-departures.md, qemu-iqa-reads-latched-base), so the
	 * reset needs it to know the queue's slot size. */
	uint64_t iqa_written;
} g;

static uint64_t g_rd(struct conf_unit *u, uint32_t off, unsigned int size)
{
	if (off + size > g.regs_len)
		return UINT64_MAX;
	if (size == 8)
		return *(volatile uint64_t *)(g.regs + off);
	return *(volatile uint32_t *)(g.regs + off);
}

static void g_wr(struct conf_unit *u, uint32_t off, uint64_t v,
		 unsigned int size)
{
	if (off + size > g.regs_len)
		return;
	/* Table and descriptor stores before the register write that makes
	 * the unit look at them. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (off == VTD_REG_IQA)
		g.iqa_written = size == 8 ? v :
			(g.iqa_written & ~0xffffffffull) | (uint32_t)v;
	if (size == 8)
		*(volatile uint64_t *)(g.regs + off) = v;
	else
		*(volatile uint32_t *)(g.regs + off) = (uint32_t)v;
}

static uint64_t g_alloc(struct conf_unit *u, uint64_t size, uint64_t align,
			void **va)
{
	if (align < 8)
		align = 8;
	for (unsigned int i = 0; i < g.nhp; i++) {
		struct hugepage *h = &g.hp[i];
		uint64_t off = (h->used + align - 1) & ~(align - 1);

		if (off + size > HUGE_2M)
			continue;
		h->used = off + size;
		memset(h->va + off, 0, size);
		*va = h->va + off;
		return h->pa + off;
	}
	return 0;
}

static void *g_pa_va(uint64_t pa)
{
	for (unsigned int i = 0; i < g.nhp; i++)
		if (pa >= g.hp[i].pa && pa < g.hp[i].pa + HUGE_2M)
			return g.hp[i].va + (pa - g.hp[i].pa);
	return NULL;
}

static uint64_t now_ns(void)
{
	return guest_now_ns();
}

static int g_dma(struct conf_unit *u, bool to_mem, uint64_t iova,
		 uint32_t len, uint32_t buf_off)
{
	volatile uint64_t *cmd = (volatile uint64_t *)(g.bar0 + EDU_DMA_CMD);
	uint64_t end;

	if (g.bar0 == NULL)
		return -ENODEV;
	if (len == 0 || len > CONF_DMA_MAX || buf_off + len > CONF_DMA_MAX)
		return -EINVAL;
	*(volatile uint64_t *)(g.bar0 + EDU_DMA_SRC) =
		to_mem ? EDU_BUF + buf_off : iova;
	*(volatile uint64_t *)(g.bar0 + EDU_DMA_DST) =
		to_mem ? iova : EDU_BUF + buf_off;
	*(volatile uint64_t *)(g.bar0 + EDU_DMA_COUNT) = len;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*cmd = EDU_CMD_START | (to_mem ? EDU_CMD_TO_RAM : 0);
	end = now_ns() + DMA_TIMEOUT_NS;
	while (*cmd & EDU_CMD_START) {
		if (now_ns() > end)
			return -ETIMEDOUT;
		usleep(1000);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

static bool poll_gsts(struct conf_unit *u, uint32_t mask, uint32_t want)
{
	uint64_t end = now_ns() + RESET_TIMEOUT_NS;

	while (((uint32_t)g_rd(u, VTD_REG_GSTS, 4) & mask) != want)
		if (now_ns() > end)
			return false;
	return true;
}

/* Back to a known state: translation off, the queue drained with a wait
 * (QEMU 7.2 turns QI off only when the last descriptor it processed was a
 * wait and head == tail) and off, FSTS and every fault record clear,
 * interrupt masks set as at reset. */
static int g_reset(struct conf_unit *u, char *why, size_t len)
{
	uint64_t cap = g_rd(u, VTD_REG_CAP, 8), ecap = g_rd(u, VTD_REG_ECAP, 8);
	uint32_t persist = (uint32_t)VTD_GCMD_PERSISTENT;
	uint32_t gsts = (uint32_t)g_rd(u, VTD_REG_GSTS, 4);

	if (gsts & VTD_GSTS_TES) {
		g_wr(u, VTD_REG_GCMD, gsts & persist & ~(uint32_t)VTD_GCMD_TE, 4);
		if (!poll_gsts(u, (uint32_t)VTD_GSTS_TES, 0)) {
			snprintf(why, len, "TES stays set");
			return -EIO;
		}
	}
	g_wr(u, VTD_REG_FSTS, 0xff, 4);
	gsts = (uint32_t)g_rd(u, VTD_REG_GSTS, 4);
	if (gsts & VTD_GSTS_QIES) {
		uint64_t iqa = g_rd(u, VTD_REG_IQA, 8);
		bool dw = (ecap & VTD_ECAP_SMTS) &&
			  ((iqa | g.iqa_written) & VTD_IQA_DW);
		unsigned int shift = dw ? VTD_IQ_SHIFT_256 : VTD_IQ_SHIFT_128;
		unsigned int slots = (4096u << (iqa & 7)) >> shift;
		unsigned int head = (unsigned int)(g_rd(u, VTD_REG_IQH, 8) >> shift);
		uint64_t *slot = g_pa_va((iqa & VTD_IQA_ADDR_MASK) +
					 ((uint64_t)head << shift));
		struct vtd_desc w = vtd_desc_wait(VTD_WAIT_SW, 0x600dcafe,
						  g.scratch_pa);
		uint64_t end = now_ns() + RESET_TIMEOUT_NS;

		if (slot == NULL) {
			snprintf(why, len, "queue at 0x%" PRIx64 " is not ours",
				 iqa & VTD_IQA_ADDR_MASK);
			return -EIO;
		}
		*g.scratch = 0;
		for (unsigned int i = 0; i < (dw ? 4u : 2u); i++)
			slot[i] = w.qw[i];
		g_wr(u, VTD_REG_IQT, (uint64_t)((head + 1) % slots) << shift, 8);
		while (*g.scratch != 0x600dcafe) {
			if (now_ns() > end) {
				snprintf(why, len, "drain wait not done (FSTS "
					 "0x%x)", (uint32_t)g_rd(u, VTD_REG_FSTS, 4));
				return -EIO;
			}
		}
		g_wr(u, VTD_REG_GCMD, gsts & persist &
		     ~(uint32_t)(VTD_GCMD_QIE | VTD_GCMD_TE), 4);
		if (!poll_gsts(u, (uint32_t)VTD_GSTS_QIES, 0)) {
			snprintf(why, len, "QIES stays set");
			return -EIO;
		}
	}
	for (unsigned int i = 0; i < VTD_CAP_NFR(cap); i++)
		g_wr(u, (uint32_t)VTD_CAP_FRO(cap) + 16 * i + 12, 1u << 31, 4);
	g_wr(u, VTD_REG_FSTS, 0xff, 4);
	g_wr(u, VTD_REG_ICS, 1, 4);
	g_wr(u, VTD_REG_FECTL, 1u << 31, 4);
	g_wr(u, VTD_REG_IECTL, 1u << 31, 4);
	gsts = (uint32_t)g_rd(u, VTD_REG_GSTS, 4);
	if ((gsts & (VTD_GSTS_TES | VTD_GSTS_QIES)) ||
	    g_rd(u, VTD_REG_FSTS, 4) != 0) {
		snprintf(why, len, "GSTS 0x%08x FSTS 0x%08x after reset", gsts,
			 (uint32_t)g_rd(u, VTD_REG_FSTS, 4));
		return -EIO;
	}
	return 0;
}

static int map_unit(void)
{
	struct guest_dmar dmar;
	const char *why = NULL;
	int err = guest_dmar_read(GUEST_DMAR_PATH, &dmar, &why);

	if (err != 0 || dmar.n_drhd == 0) {
		fprintf(stderr, "no VT-d unit: %s\n", err ? why : "no DRHD");
		return -ENODEV;
	}
	/* One page holds every register the cases use on QEMU (IOTLB at
	 * 0xF0, the fault record at 0x220); more when the unit says so. */
	g.regs_len = 4096;
	g.regs = guest_map_phys(dmar.drhd[0].base, g.regs_len);
	if (g.regs == NULL) {
		fprintf(stderr, "map DRHD 0x%" PRIx64 ": %s\n",
			dmar.drhd[0].base, strerror(errno));
		return -errno;
	}
	printf("VT-d unit at 0x%" PRIx64 "\n", dmar.drhd[0].base);
	return 0;
}

static int map_hugepages(void)
{
	const char *env = getenv("UVTD_HUGEPAGES");
	long n = env ? strtol(env, NULL, 0) : 0;
	uint8_t *area;

	if (n <= 0) {
		fprintf(stderr, "no hugepages reserved (rig --hugepages)\n");
		return -ENOMEM;
	}
	if (n > MAX_HUGE)
		n = MAX_HUGE;
	area = mmap(NULL, (size_t)n * HUGE_2M, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE |
		    MAP_LOCKED, -1, 0);
	if (area == MAP_FAILED) {
		fprintf(stderr, "mmap %ld hugepages: %s\n", n, strerror(errno));
		return -ENOMEM;
	}
	for (long i = 0; i < n; i++) {
		uint64_t pa = guest_virt_to_phys(area + i * HUGE_2M);

		if (pa == 0)
			continue;
		g.hp[g.nhp++] = (struct hugepage){ area + i * HUGE_2M, pa, 0 };
	}
	return g.nhp ? 0 : -ENOMEM;
}

/* edu: Memory and Bus Master on, BAR0 mapped. Returns NULL or a reason. */
static const char *map_edu(void)
{
	char dir[256], path[300];
	struct stat st;
	void *p;
	int fd, cmd;

	if (guest_pci_find(EDU_VENDOR, EDU_DEVICE, dir, sizeof(dir)) != 0)
		return "no edu device (QEMU's -device edu)";
	cmd = guest_pci_command_set(dir, PCI_CMD_MEMORY | PCI_CMD_MASTER);
	if (cmd < 0 || !(cmd & PCI_CMD_MASTER))
		return "cannot enable edu's bus mastering";
	snprintf(path, sizeof(path), "%s/resource0", dir);
	fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
		if (fd >= 0)
			close(fd);
		return "cannot open edu's resource0";
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return "cannot map edu's BAR0";
	g.bar0 = p;
	g.bar0_len = (size_t)st.st_size;
	return NULL;
}

int main(int argc, char **argv)
{
	static struct conf_unit unit = {
		.name = "qemu", .is_qemu = true,
		.rd = g_rd, .wr = g_wr, .alloc = g_alloc, .dma = g_dma,
	};
	struct conf_run_opts o = { .unit = &unit, .reset = g_reset };
	static char name[80];
	const char *edu_why;
	void *va;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			o.only = argv[++i];
		} else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
			snprintf(name, sizeof(name), "qemu:%s", argv[++i]);
			unit.name = name;
		} else if (strcmp(argv[i], "-v") == 0) {
			o.verbose = true;
		} else {
			fprintf(stderr, "usage: conf-guest [--name NAME] "
				"[--only SUBSTR] [-v]\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (map_unit() != 0 || map_hugepages() != 0)
		return 1;
	g.scratch_pa = g_alloc(&unit, 64, 64, &va);
	g.scratch = va;
	edu_why = map_edu();
	unit.has_dma = edu_why == NULL;
	unit.no_dma_why = edu_why;
	printf("%u hugepages; edu %s\n", g.nhp, edu_why ? edu_why : "ready");
	rc = conf_run(&o);
	/* Leave the unit as the kernel expects it: translation and QI off. */
	{
		char why[120];

		if (g_reset(&unit, why, sizeof(why)) != 0)
			printf("final reset: %s\n", why);
	}
	return rc;
}
