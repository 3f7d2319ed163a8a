/* SPDX-License-Identifier: BSD-3-Clause
 * Trace markers and result lines for the guest benchmarks: bench_mark.h.
 */
#include "bench_mark.h"

#include "guest_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REG_PAGE 4096

static volatile uint8_t *mark_regs;
static unsigned int mark_count;

int bench_mark_open(void)
{
	struct guest_dmar dmar;
	const char *why = NULL;
	int rc;

	if (mark_regs != NULL)
		return 0;
	rc = guest_dmar_read(GUEST_DMAR_PATH, &dmar, &why);
	if (rc < 0) {
		fprintf(stderr, "bench: DMAR table %s: %s\n", GUEST_DMAR_PATH,
			why ? why : strerror(-rc));
		return rc;
	}
	if (dmar.n_drhd == 0) {
		fprintf(stderr, "bench: the DMAR table lists no unit\n");
		return -ENODEV;
	}
	mark_regs = guest_map_phys(dmar.drhd[0].base, REG_PAGE);
	if (mark_regs == NULL) {
		rc = -errno;
		fprintf(stderr, "bench: cannot map the unit at 0x%" PRIx64 ": %s\n",
			dmar.drhd[0].base, strerror(errno));
		return rc;
	}
	return 0;
}

void bench_mark_close(void)
{
	if (mark_regs != NULL)
		guest_unmap_phys(mark_regs, REG_PAGE);
	mark_regs = NULL;
}

unsigned int bench_mark(void)
{
	/* The value is of no interest; the read is: QEMU's vtd_reg_read trace
	 * line is the mark. volatile keeps the compiler from dropping it. */
	(void)*(volatile uint32_t *)(mark_regs + BENCH_MARK_REG);
	return ++mark_count;
}

unsigned int bench_cpu_mark(void)
{
	static unsigned int k;
	struct timespec idle = {
		.tv_sec = BENCH_CPU_MARK_IDLE_MS / 1000,
		.tv_nsec = (BENCH_CPU_MARK_IDLE_MS % 1000) * 1000000L,
	};

	printf("BENCH-CPU-MARK %u\n", k);
	fflush(stdout);
	/* Idle, not spin: a halted vCPU costs QEMU (almost) no CPU time, so
	 * the host may sample at any moment of this pause. */
	nanosleep(&idle, NULL);
	return k++;
}

void bench_result(const char *prog, const char *phase, uint64_t pairs,
		  uint64_t ns, const char *extra)
{
	double rate = ns ? (double)pairs * 1e9 / (double)ns : 0.0;

	printf("BENCH-RESULT prog=%s phase=%s pairs=%" PRIu64 " ns=%" PRIu64
	       " pairs_per_s=%.1f marks=%u%s%s\n", prog, phase, pairs, ns, rate,
	       mark_count, extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

int bench_parse_u64(const char *prog, const char *name, const char *s,
		    uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "%s: %s: '%s' is not a number in "
			"[%" PRIu64 ", %" PRIu64 "]\n", prog, name, s, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int bench_parse_seconds(const char *prog, const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *s == '\0' || *end != '\0' || !(v > 0 && v <= 3600)) {
		fprintf(stderr, "%s: --seconds: '%s' is not in (0, 3600]\n",
			prog, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}
