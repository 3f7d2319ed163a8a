/* SPDX-License-Identifier: BSD-3-Clause
 * edu-smoke: runs inside the QEMU guest (test/qemu/rig). Proves that guest
 * userspace can drive QEMU's edu device, the DMA engine the driver tests use
 * later: find it in sysfs, enable bus mastering, map BAR0, check its ident,
 * then with VT-d translation off DMA a page of RAM into edu's buffer and back
 * into another page, and compare.
 *
 * edu's DMA engine masks addresses to 28 bits by default, so the pages must
 * lie below 256 MiB: they come from the hugepages the rig reserved at boot,
 * and the program picks one below that line.
 */
#include "guest_util.h"
#include "uvtd_test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
/* BAR0 registers (QEMU docs/specs/edu.txt). */
#define EDU_IDENT 0x00
#define EDU_LIVENESS 0x04 /* reads back the bitwise NOT of what was written */
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 0x1
#define EDU_CMD_TO_RAM 0x2 /* direction: 0 = RAM to buffer, 1 = buffer to RAM */
#define EDU_IDENT_VALUE 0x010000ed
#define EDU_BUF 0x40000 /* the device's DMA buffer, reachable only by DMA */
/* The buffer is 4 KiB, but QEMU 7.2's range check is off by one (fixed
 * upstream later): a transfer that ends at 0x41000 aborts QEMU with "EDU: DMA
 * range 0x40000-0x40fff out of bounds (0x40000-0x40fff)". So a transfer must
 * end before the buffer's last byte: 4095 bytes at most. */
#define EDU_DMA_MAX 4095
#define EDU_DMA_LIMIT (UINT64_C(1) << 28)

#define PCI_CMD_MEMORY 0x2
#define PCI_CMD_MASTER 0x4

#define VTD_GSTS 0x1c
#define VTD_GSTS_TES (UINT32_C(1) << 31)

#define HUGE_2M (UINT64_C(2) << 20)
/* One DMA is ~100 ms of guest time (edu's timer); allow plenty under TCG. */
#define DMA_TIMEOUT_NS (UINT64_C(5) * 1000000000)

static char edu_dir[256];
static volatile uint8_t *bar0;
static size_t bar0_len;

static uint32_t edu_rd32(unsigned off)
{
	return *(volatile uint32_t *)(bar0 + off);
}

static void edu_wr32(unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(bar0 + off) = v;
}

static uint64_t edu_rd64(unsigned off)
{
	return *(volatile uint64_t *)(bar0 + off);
}

static void edu_wr64(unsigned off, uint64_t v)
{
	*(volatile uint64_t *)(bar0 + off) = v;
}

static void test_find_edu(void)
{
	int err = guest_pci_find(EDU_VENDOR, EDU_DEVICE, edu_dir, sizeof(edu_dir));

	REQUIRE(err == 0, "no PCI device %04x:%04x (is '-device edu' on QEMU's command "
			  "line?): %s", EDU_VENDOR, EDU_DEVICE, strerror(-err));
	printf("edu at %s\n", edu_dir);
}

static void test_enable_and_map(void)
{
	char path[300];
	struct stat st;
	int cmd, fd;
	void *p;

	if (edu_dir[0] == '\0')
		SKIP_TEST("no edu device");
	/* Memory decoding for BAR0, and bus mastering, without which QEMU drops
	 * the device's DMA. No kernel driver owns edu, so nobody else set them. */
	cmd = guest_pci_command_set(edu_dir, PCI_CMD_MEMORY | PCI_CMD_MASTER);
	REQUIRE(cmd >= 0, "writing the command register through sysfs: %s",
		strerror(-cmd));
	CHECK((cmd & (PCI_CMD_MEMORY | PCI_CMD_MASTER)) ==
		      (PCI_CMD_MEMORY | PCI_CMD_MASTER),
	      "command register reads 0x%x after setting bits 1 and 2", cmd);

	snprintf(path, sizeof(path), "%s/resource0", edu_dir);
	fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	REQUIRE(fd >= 0, "open %s: %s", path, strerror(errno));
	REQUIRE(fstat(fd, &st) == 0 && st.st_size > 0, "resource0 has no size");
	bar0_len = (size_t)st.st_size;
	p = mmap(NULL, bar0_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	REQUIRE(p != MAP_FAILED, "mmap %s: %s", path, strerror(errno));
	bar0 = p;

	CHECK_EQ(edu_rd32(EDU_IDENT), EDU_IDENT_VALUE);
	edu_wr32(EDU_LIVENESS, 0x12345678);
	CHECK_EQ(edu_rd32(EDU_LIVENESS), ~UINT32_C(0x12345678));
}

/* The DMA below uses physical addresses: only right while the unit does not
 * translate. */
static void test_translation_off(void)
{
	struct guest_dmar dmar;
	volatile void *regs;
	uint32_t gsts;
	int err = guest_dmar_read(GUEST_DMAR_PATH, &dmar, NULL);

	if (err == -ENOENT)
		SKIP_TEST("no DMAR table: QEMU runs without intel-iommu");
	REQUIRE(err == 0 && dmar.n_drhd > 0, "DMAR table unreadable or without DRHD");
	regs = guest_map_phys(dmar.drhd[0].base, 4096);
	REQUIRE(regs != NULL, "map the VT-d registers: %s", strerror(errno));
	gsts = *(volatile uint32_t *)((volatile uint8_t *)regs + VTD_GSTS);
	guest_unmap_phys(regs, 4096);
	CHECK((gsts & VTD_GSTS_TES) == 0, "GSTS=0x%08x: translation is on", gsts);
}

/* Starts one DMA and polls the command register until edu clears the start
 * bit. Returns the time it took, or 0 on timeout. */
static uint64_t edu_dma(uint64_t src, uint64_t dst, uint32_t len, int to_ram)
{
	uint64_t t0 = guest_now_ns(), t;

	edu_wr64(EDU_DMA_SRC, src);
	edu_wr64(EDU_DMA_DST, dst);
	edu_wr64(EDU_DMA_COUNT, len);
	/* The source data must be in memory before the device is told to read. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	edu_wr64(EDU_DMA_CMD, EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0));
	for (;;) {
		t = guest_now_ns();
		if (!(edu_rd64(EDU_DMA_CMD) & EDU_CMD_START))
			break;
		if (t - t0 > DMA_TIMEOUT_NS)
			return 0;
		usleep(1000);
	}
	/* What the device wrote is read only after it said it was done. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return t - t0 ? t - t0 : 1;
}

static void test_dma_round_trip(void)
{
	const char *env = getenv("UVTD_HUGEPAGES");
	long npages = env ? strtol(env, NULL, 0) : 8;
	uint8_t *area, *page = NULL;
	uint64_t phys = 0, t_in, t_out;
	unsigned low = 0;

	if (bar0 == NULL)
		SKIP_TEST("BAR0 not mapped");
	if (npages <= 0)
		SKIP_TEST("no hugepages reserved (the rig's UVTD_QEMU_HUGEPAGES)");
	/* Take every reserved hugepage: the kernel hands them out in no promised
	 * order, and only some may lie below edu's 256 MiB limit. */
	area = mmap(NULL, (size_t)npages * HUGE_2M, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE | MAP_LOCKED,
		    -1, 0);
	REQUIRE(area != MAP_FAILED, "mmap %ld hugepages: %s", npages, strerror(errno));
	for (long i = 0; i < npages; i++) {
		uint8_t *p = area + i * HUGE_2M;
		uint64_t pa = guest_virt_to_phys(p);

		if (pa != 0 && pa + HUGE_2M <= EDU_DMA_LIMIT) {
			low++;
			if (page == NULL) {
				page = p;
				phys = pa;
			}
		}
	}
	printf("%u of %ld hugepages lie below 256 MiB\n", low, npages);
	REQUIRE(page != NULL, "no hugepage below 256 MiB (edu's 28-bit DMA mask): "
			      "reserve them earlier or boot with less memory");
	/* Source at the start of the hugepage, destination 1 MiB in. */
	uint8_t *src = page, *dst = page + (1u << 20);
	uint64_t src_pa = phys, dst_pa = phys + (1u << 20);

	printf("DMA pages: src va %p pa 0x%" PRIx64 ", dst va %p pa 0x%" PRIx64 "\n",
	       (void *)src, src_pa, (void *)dst, dst_pa);
	for (unsigned i = 0; i < 4096; i++)
		src[i] = (uint8_t)(i * 7 + 3 + (i >> 8));
	memset(dst, 0, 4096);

	t_in = edu_dma(src_pa, EDU_BUF, EDU_DMA_MAX, 0);
	REQUIRE(t_in != 0, "RAM to edu DMA did not finish within 5 s");
	t_out = edu_dma(EDU_BUF, dst_pa, EDU_DMA_MAX, 1);
	REQUIRE(t_out != 0, "edu to RAM DMA did not finish within 5 s");
	printf("DMA RAM->edu %.1f ms, edu->RAM %.1f ms\n", t_in / 1e6, t_out / 1e6);
	CHECK(memcmp(src, dst, EDU_DMA_MAX) == 0, "data did not round-trip: first bytes "
	      "%02x %02x %02x %02x, expected %02x %02x %02x %02x",
	      dst[0], dst[1], dst[2], dst[3], src[0], src[1], src[2], src[3]);

	/* A second, partial transfer at an offset in both places: the addresses
	 * are used as given, not rounded to a page. */
	CHECK(dst[EDU_DMA_MAX] == 0, "DMA wrote past its count");
	memset(dst, 0, 4096);
	REQUIRE(edu_dma(src_pa + 256, EDU_BUF + 512, 1024, 0) != 0, "DMA timed out");
	REQUIRE(edu_dma(EDU_BUF + 512, dst_pa + 100, 1024, 1) != 0, "DMA timed out");
	CHECK(memcmp(src + 256, dst + 100, 1024) == 0, "partial transfer differs");
	CHECK(dst[99] == 0 && dst[1124] == 0, "DMA wrote outside its range");
	munmap(area, (size_t)npages * HUGE_2M);
}

int main(void)
{
	RUN(test_find_edu);
	RUN(test_enable_and_map);
	RUN(test_translation_off);
	RUN(test_dma_round_trip);
	if (bar0 != NULL)
		munmap((void *)(uintptr_t)bar0, bar0_len);
	return TEST_SUMMARY();
}
