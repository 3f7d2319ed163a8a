/* SPDX-License-Identifier: BSD-3-Clause
 * Trace markers and result lines for the guest benchmarks (vfio-bench,
 * uvtd-bench; the host side is test/qemu/bench-vs-vfio).
 *
 * The host counts what QEMU's VT-d model processed during a timed phase
 * from QEMU's trace log, which has neither timestamps nor anything the guest
 * wrote. So the guest leaves a mark in the trace itself: one 32-bit read of
 * the unit's register page at offset 0x4, which VT-d §11.4 leaves reserved
 * (between VER and CAP), so neither the kernel's driver nor ours ever reads
 * it. QEMU traces every register read (trace event vtd_reg_read, "addr 0x4
 * size 0x4"); the host splits the log at those lines.
 *
 * Each timed phase is bracketed by two marks (bench_mark_begin/_end), and
 * the result line says how many marks the program had made, so the host can
 * check that it is cutting the log where the guest meant.
 *
 * Guest only: maps the unit through /dev/mem (guest_map_phys refuses
 * outside the rig's guest).
 */
#ifndef UVTD_BENCH_MARK_H
#define UVTD_BENCH_MARK_H

#include <stdint.h>

/* The reserved register offset the marks read. */
#define BENCH_MARK_REG 0x4

/* Finds the first DRHD in the firmware's DMAR table and maps its register
 * page. 0, or a negative errno with a message on stderr. */
int bench_mark_open(void);
void bench_mark_close(void);

/* One mark (one traced register read). Returns the marks made so far. */
unsigned int bench_mark(void);

/* A CPU mark, for timing runs on a shared host: prints
 *   BENCH-CPU-MARK <k>
 * on the console and idles for BENCH_CPU_MARK_IDLE_MS, so that the host,
 * which watches the console, can read how much CPU time QEMU has used so
 * far while the guest does nothing (test/qemu/bench-vs-vfio-sampler). The
 * CPU time QEMU spends between two marks is the phase's cost whatever else
 * runs on the host; wall time is not. Returns k (0, 1, 2...). */
#define BENCH_CPU_MARK_IDLE_MS 200
unsigned int bench_cpu_mark(void);

/* Prints the machine-readable result of one timed phase on stdout:
 *   BENCH-RESULT prog=<prog> phase=<phase> pairs=<n> ns=<t>
 *                pairs_per_s=<r> marks=<m> [extra]
 * marks is the mark count after the phase's closing mark; extra (may be
 * NULL) is appended as is (key=value words). */
void bench_result(const char *prog, const char *phase, uint64_t pairs,
		  uint64_t ns, const char *extra);

/* Option parsing both guest benchmarks share: a number in [lo, hi] (any
 * base strtoull takes), and seconds in (0, 3600]. 0, or -EINVAL with
 * "<prog>: <name>: ..." on stderr. */
int bench_parse_u64(const char *prog, const char *name, const char *s,
		    uint64_t lo, uint64_t hi, uint64_t *out);
int bench_parse_seconds(const char *prog, const char *s, double *out);

#endif /* UVTD_BENCH_MARK_H */
