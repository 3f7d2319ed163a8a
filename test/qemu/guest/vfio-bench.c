/* SPDX-License-Identifier: BSD-3-Clause
 * vfio-bench: runs inside the QEMU guest (test/qemu/rig, booted with
 * intel_iommu=on, edu bound to vfio-pci, vfio_iommu_type1 loaded with
 * allow_unsafe_interrupts=1) and times the kernel's VFIO type1 map+unmap of
 * 4 KiB pages: the path DPDK uses today, and the one uvtd is compared with
 * (test/qemu/bench-vs-vfio, docs/benchmarks.md).
 *
 *   vfio-bench [--dev SSSS:BB:DD.F] [--pairs N | --seconds S] [--burst B]
 *              [--warmup W] [--repeat R] [--no-mark] [--cpu-marks]
 *
 * Phases, in this order, each bracketed by two trace marks (bench_mark.h)
 * and reported by one BENCH-RESULT line:
 *   empty     nothing between the marks: what the host counts there is
 *             background (or a bug in the counting), and should be 0
 *   single    pairs one at a time: VFIO_IOMMU_MAP_DMA of one page, then
 *             VFIO_IOMMU_UNMAP_DMA of it
 *   burstB    pairs as rounds of B maps (B pages at B IOVAs) then B unmaps
 *             (VFIO has no batch call: one ioctl per page, as DPDK does)
 * A phase runs exactly N pairs (--pairs: for trace counting), or rounds of
 * CHUNK pairs until S seconds have passed (--seconds: for timing); with
 * --repeat R the single and burst phases run R times each (one result line
 * each, rep=0..R-1).
 *
 * Exit: 0 done; 1 an ioctl failed; 2 bad usage or no VFIO set-up.
 */
#include "bench_mark.h"
#include "guest_util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#define PAGE 4096ull
#define MAX_BURST 256
/* Far from 0 and below edu's 28-bit DMA mask; the value does not matter
 * here (nothing DMAs), only that every IOVA is distinct. */
#define IOVA_BASE 0x1000000ull
/* Pairs between two clock reads in a --seconds phase (a multiple of every
 * burst size used). */
#define CHUNK 1024

struct opts {
	const char *dev;
	uint64_t pairs;
	unsigned int burst;
	uint64_t warmup;
	double seconds;   /* 0: exactly `pairs` pairs */
	unsigned int repeat;
	bool mark;
	bool cpu_marks;
};

static int container = -1, group = -1;

static void usage(const char *prog)
{
	fprintf(stderr,
		"Usage: %s [--dev SSSS:BB:DD.F] [--pairs N | --seconds S] "
		"[--burst B]\n          [--warmup W] [--repeat R] [--no-mark]\n"
		"  --dev      the device bound to vfio-pci (default 0000:00:01.0, edu)\n"
		"  --pairs    timed map+unmap pairs per phase (default 20000)\n"
		"  --seconds  instead: pairs in rounds of %d until S seconds passed\n"
		"  --repeat   run each timed phase R times (default 1)\n"
		"  --burst    maps before the unmaps in the burst phase (default 16, max %d)\n"
		"  --warmup   untimed pairs before each phase (default 256)\n"
		"  --no-mark  do not mark the QEMU trace (no /dev/mem access)\n"
		"  --cpu-marks  print a console mark and idle around each phase\n"
		"             (the host reads QEMU's CPU time there)\n",
		prog, CHUNK, MAX_BURST);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "pairs", required_argument, NULL, 'n' },
		{ "burst", required_argument, NULL, 'b' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "seconds", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "no-mark", no_argument, NULL, 'M' },
		{ "cpu-marks", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	o->dev = "0000:00:01.0";
	o->pairs = 20000;
	o->burst = 16;
	o->warmup = 256;
	o->seconds = 0;
	o->repeat = 1;
	o->mark = true;
	o->cpu_marks = false;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->dev = optarg; break;
		case 'n':
			if (bench_parse_u64("vfio-bench", "--pairs", optarg, 1, UINT64_C(1) << 40, &o->pairs))
				return -EINVAL;
			break;
		case 'b':
			if (bench_parse_u64("vfio-bench", "--burst", optarg, 1, MAX_BURST, &v))
				return -EINVAL;
			o->burst = (unsigned int)v;
			break;
		case 'w':
			if (bench_parse_u64("vfio-bench", "--warmup", optarg, 0, UINT64_C(1) << 40, &o->warmup))
				return -EINVAL;
			break;
		case 's':
			if (bench_parse_seconds("vfio-bench", optarg, &o->seconds))
				return -EINVAL;
			break;
		case 'r':
			if (bench_parse_u64("vfio-bench", "--repeat", optarg, 1, 1000, &v))
				return -EINVAL;
			o->repeat = (unsigned int)v;
			break;
		case 'M': o->mark = false; break;
		case 'C': o->cpu_marks = true; break;
		case 'h': usage(argv[0]); exit(0);
		default: return -EINVAL;
		}
	}
	if (o->burst > 1 && CHUNK % o->burst) {
		fprintf(stderr, "vfio-bench: --burst %u does not divide %d\n",
			o->burst, CHUNK);
		return -EINVAL;
	}
	if (optind != argc) {
		fprintf(stderr, "vfio-bench: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* The IOMMU group number of dev, from its sysfs iommu_group link. */
static int group_of(const char *dev)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;
	long g;
	char *end;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", dev);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		fprintf(stderr, "vfio-bench: %s: %s (is the kernel's IOMMU on: "
			"intel_iommu=on?)\n", path, strerror(errno));
		return -errno;
	}
	target[n] = '\0';
	g = strtol(basename(target), &end, 10);
	if (*end != '\0' || g < 0) {
		fprintf(stderr, "vfio-bench: %s -> %s: no group number\n", path, target);
		return -EINVAL;
	}
	return (int)g;
}

/* Container with the type1 IOMMU and dev's group in it (the order the
 * kernel's Documentation/driver-api/vfio.rst gives). */
static int vfio_setup(const char *dev)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int g;

	g = group_of(dev);
	if (g < 0)
		return g;
	container = open("/dev/vfio/vfio", O_RDWR);
	if (container < 0) {
		fprintf(stderr, "vfio-bench: /dev/vfio/vfio: %s (vfio loaded?)\n",
			strerror(errno));
		return -errno;
	}
	if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		fprintf(stderr, "vfio-bench: unknown VFIO API version\n");
		return -ENOTSUP;
	}
	if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) <= 0) {
		fprintf(stderr, "vfio-bench: no type1 IOMMU (vfio_iommu_type1 "
			"loaded?)\n");
		return -ENOTSUP;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", g);
	group = open(path, O_RDWR);
	if (group < 0) {
		fprintf(stderr, "vfio-bench: %s: %s (is %s bound to vfio-pci?)\n",
			path, strerror(errno), dev);
		return -errno;
	}
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &st) < 0 ||
	    !(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		fprintf(stderr, "vfio-bench: group %d is not viable (every device "
			"in it must be bound to vfio-pci)\n", g);
		return -EBUSY;
	}
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0) {
		fprintf(stderr, "vfio-bench: GROUP_SET_CONTAINER: %s\n", strerror(errno));
		return -errno;
	}
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0) {
		fprintf(stderr, "vfio-bench: SET_IOMMU type1: %s (intremap=off "
			"needs vfio_iommu_type1.allow_unsafe_interrupts=1)\n",
			strerror(errno));
		return -errno;
	}
	printf("vfio-bench: %s in group %d, type1 container ready\n", dev, g);
	return 0;
}

static int map_one(void *va, uint64_t iova)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uint64_t)(uintptr_t)va,
		.iova = iova,
		.size = PAGE,
	};

	if (ioctl(container, VFIO_IOMMU_MAP_DMA, &m) < 0) {
		fprintf(stderr, "vfio-bench: MAP_DMA iova 0x%" PRIx64 ": %s\n",
			iova, strerror(errno));
		return -errno;
	}
	return 0;
}

static int unmap_one(uint64_t iova)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.iova = iova,
		.size = PAGE,
	};

	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u) < 0) {
		fprintf(stderr, "vfio-bench: UNMAP_DMA iova 0x%" PRIx64 ": %s\n",
			iova, strerror(errno));
		return -errno;
	}
	/* type1 writes back how much it unmapped: anything but our page is
	 * a wrong measurement. */
	if (u.size != PAGE) {
		fprintf(stderr, "vfio-bench: UNMAP_DMA iova 0x%" PRIx64 " unmapped "
			"%" PRIu64 " bytes, not one page\n", iova, (uint64_t)u.size);
		return -EIO;
	}
	return 0;
}

/* n pairs as rounds of `burst` maps then `burst` unmaps (burst 1: one at a
 * time). A final short round keeps the pair count exact. */
static int run_pairs(uint8_t *buf, uint64_t n, unsigned int burst)
{
	while (n > 0) {
		unsigned int k = n < burst ? (unsigned int)n : burst;

		for (unsigned int i = 0; i < k; i++)
			if (map_one(buf + i * PAGE, IOVA_BASE + i * PAGE))
				return -1;
		for (unsigned int i = 0; i < k; i++)
			if (unmap_one(IOVA_BASE + i * PAGE))
				return -1;
		n -= k;
	}
	return 0;
}

static int phase(const char *name, uint8_t *buf, unsigned int burst,
		 unsigned int rep, const struct opts *o)
{
	uint64_t t0, t1, n = 0, limit = (uint64_t)(o->seconds * 1e9);
	unsigned int cpu0 = 0, cpu1 = 0;
	char extra[80];

	if (run_pairs(buf, o->warmup, burst))
		return -1;
	if (o->cpu_marks)
		cpu0 = bench_cpu_mark();
	if (o->mark)
		bench_mark();
	t0 = guest_now_ns();
	if (limit == 0) {
		if (run_pairs(buf, o->pairs, burst))
			return -1;
		n = o->pairs;
		t1 = guest_now_ns();
	} else {
		do {
			if (run_pairs(buf, CHUNK, burst))
				return -1;
			n += CHUNK;
			t1 = guest_now_ns();
		} while (t1 - t0 < limit);
	}
	if (o->mark)
		bench_mark();
	if (o->cpu_marks)
		cpu1 = bench_cpu_mark();
	if (o->cpu_marks)
		snprintf(extra, sizeof(extra), "burst=%u rep=%u cpu_marks=%u,%u",
			 burst, rep, cpu0, cpu1);
	else
		snprintf(extra, sizeof(extra), "burst=%u rep=%u", burst, rep);
	bench_result("vfio", name, n, t1 - t0, extra);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	char name[32];
	uint8_t *buf;
	int rc = 1;

	if (parse_opts(argc, argv, &o)) {
		usage(argv[0]);
		return 2;
	}
	if (vfio_setup(o.dev))
		return 2;
	if (o.mark && bench_mark_open())
		return 2;
	/* Pinned by type1 at each map; touched first so that the pin finds a
	 * present page and the first round costs no page fault. */
	buf = mmap(NULL, MAX_BURST * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		fprintf(stderr, "vfio-bench: mmap: %s\n", strerror(errno));
		return 1;
	}
	memset(buf, 0x5a, MAX_BURST * PAGE);

	if (o.mark) {
		bench_mark();
		bench_mark();
		bench_result("vfio", "empty", 0, 0, "burst=0");
	}
	snprintf(name, sizeof(name), "burst%u", o.burst);
	for (unsigned int r = 0; r < o.repeat; r++) {
		if (phase("single", buf, 1, r, &o))
			goto out;
		if (phase(name, buf, o.burst, r, &o))
			goto out;
	}
	rc = 0;
out:
	munmap(buf, MAX_BURST * PAGE);
	bench_mark_close();
	close(group);
	close(container);
	return rc;
}
