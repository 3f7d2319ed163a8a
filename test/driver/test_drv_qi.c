/* SPDX-License-Identifier: BSD-3-Clause
 * The invalidation engine (drivers/iommu/vtd/vtd_qi.c, vtd_fault.c) on the
 * emulated unit:
 *   - submission and completion, 128-bit (legacy) and 256-bit (scalable)
 *     queues, queue wrap-around (more descriptors than slots);
 *   - two lcores submitting at once on the THREADED emulator for a bounded
 *     time: no lost completion, the emulator's descriptor counts equal what
 *     was submitted, IQT writes coalesced under contention, no stale use
 *     with real map/unmap/invalidate cycles;
 *   - every fault: an invalid descriptor first, in the middle, last in a
 *     batch (and as the wait) while another lcore submits (IQE: -EINVAL for
 *     its submitter only), a device-TLB time-out (ITE: -EIO, resubmit), a
 *     completion error (ICE: cleared), a stall shorter and longer than the
 *     bound, a lost wait (-ETIMEDOUT within the bound); the queue usable
 *     after each;
 *   - register-based invalidation on a unit without QI;
 *   - the planted bugs that show the checks bite (a wait for a sequence
 *     number never submitted; an unmap without its invalidation).
 * Throughput of the strict and batched paths on the inline emulator is
 * printed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>

#include "uvtd_eal.h"
#include "drv_env.h"
#include "vtd_qi_priv.h"

#define MS ((uint64_t)1000 * 1000)
/* "Gave up instead of spinning", never a speed limit (see uses). */
#define SLACK(bound) ((bound) * 10 + 2000 * MS)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Launching on lcore 1 and joining it (TSan-visible, see uvtd_eal.h). */
static int launch_l1(lcore_function_t *fn, void *arg)
{
	return uvtd_test_launch(fn, arg, 1);
}

static void join_l1(void)
{
	uvtd_test_join(1);
}

/* A unit on a new emulator: preset, mode, ECAP bits removed, params. */
static int qi_open(struct drv_env *env, const char *preset,
		   enum vtdemu_mode mode, uint64_t ecap_clear,
		   const struct vtd_unit_params *pin)
{
	struct vtdemu_config c;
	struct vtd_unit_params p;
	char err[200] = "";
	int rc;

	memset(env, 0, sizeof(*env));
	vtdemu_config_init(&c);
	if (vtdemu_preset(preset, &c.caps) != 0)
		return -ENOENT;
	c.caps.ecap &= ~ecap_clear;
	c.resolve = vtd_emu_resolve;
	c.mode = mode;
	c.check_stale = true;
	env->caps = c.caps;
	env->emu = vtdemu_create(&c, err, sizeof(err));
	if (env->emu == NULL) {
		fprintf(stderr, "vtdemu_create: %s\n", err);
		return -EINVAL;
	}
	if (pin) {
		p = *pin;
	} else {
		vtd_unit_params_init(&p);
		p.enable_translation = true;
	}
	p.name = preset;
	p.win.base = vtdemu_regs(env->emu);
	p.win.size = vtdemu_regs_size(env->emu);
	p.win.write_hook = vtdemu_reg_write_hook;
	p.win.hook_opaque = env->emu;
	rc = vtd_unit_open(&p, &env->u);
	if (rc) {
		vtdemu_destroy(env->emu);
		env->emu = NULL;
	}
	return rc;
}

static struct vtd_desc dsi(uint16_t did)
{
	return vtd_desc_iotlb(VTD_INV_DOMAIN, did, 0, 0, 0, 0, 0);
}

static struct vtd_desc psi(uint16_t did, uint64_t addr, unsigned int am)
{
	return vtd_desc_iotlb(VTD_INV_PAGE, did, addr, am, 1, 0, 0);
}

/* An IOTLB descriptor with a reserved bit (qw0 bit 8) set: invalid. */
static struct vtd_desc bad(void)
{
	struct vtd_desc d = dsi(1);

	d.qw[0] |= VTD_BIT(8);
	return d;
}

static uint64_t emu_desc(struct vtdemu *e, enum vtdemu_desc_stat k)
{
	struct vtdemu_stats s;

	vtdemu_stats_get(e, &s);
	return s.desc[k];
}

static struct vtdemu_stats emu_stats(struct vtdemu *e)
{
	struct vtdemu_stats s;

	vtdemu_stats_get(e, &s);
	return s;
}

/* ---------------------------------------------------------------------------
 * Submission, completion, wrap-around.
 */
static void submit_basic(const char *preset, unsigned int want_bytes)
{
	struct drv_env env;
	struct vtd_unit_info info;
	struct vtd_qi_stats qs0, qs1;
	struct vtd_qctx *c;
	struct vtd_desc d;
	uint64_t dom0, page0, waits0;
	uint32_t seq, seq2;

	TRY(qi_open(&env, preset, VTDEMU_INLINE, 0, NULL), "open %s", preset);
	TRY(vtd_unit_get_info(env.u, &info), "info");
	CHECK(info.queued, "%s: queued invalidation", preset);
	CHECK_EQ(info.desc_bytes, want_bytes);
	c = vtd_qctx_get(env.u, rte_lcore_id());
	REQUIRE(c != NULL, "context");
	CHECK(vtd_qctx_get(env.u, rte_lcore_id()) == c, "same context");
	CHECK(vtd_qctx_get(env.u, LCORE_ID_ANY) != c, "shared context apart");

	vtd_qi_stats_get(env.u, &qs0);
	dom0 = emu_desc(env.emu, VTDEMU_DS_IOTLB_DOMAIN);
	page0 = emu_desc(env.emu, VTDEMU_DS_IOTLB_PAGE);
	waits0 = emu_stats(env.emu).wait_status_writes;

	/* An empty batch returns the last sequence number, done at once. */
	TRY(vtd_qctx_submit(c, &seq), "empty submit");
	CHECK(vtd_qctx_done(c, seq), "empty batch done");
	CHECK_EQ(vtd_qctx_wait(c, seq), 0);

	d = dsi(3);
	TRY(vtd_qctx_add(c, &d), "add");
	d = psi(3, 0x40000, 2);
	TRY(vtd_qctx_add(c, &d), "add");
	TRY(vtd_qctx_submit(c, &seq2), "submit");
	CHECK_EQ(seq2, seq + 1);
	CHECK_EQ(vtd_qctx_wait(c, seq2), 0);
	CHECK(vtd_qctx_done(c, seq2), "done");
	CHECK(vtd_qctx_done(c, seq), "earlier seq done too");
	CHECK_EQ(emu_desc(env.emu, VTDEMU_DS_IOTLB_DOMAIN) - dom0, 1);
	CHECK_EQ(emu_desc(env.emu, VTDEMU_DS_IOTLB_PAGE) - page0, 1);
	CHECK_EQ(emu_stats(env.emu).wait_status_writes - waits0, 1);

	vtd_qi_stats_get(env.u, &qs1);
	CHECK_EQ(qs1.submits - qs0.submits, 1);
	CHECK_EQ(qs1.descs - qs0.descs, 3);
	CHECK_EQ(qs1.waits - qs0.waits, 1);
	CHECK_EQ(qs1.dsi - qs0.dsi, 1);
	CHECK_EQ(qs1.psi - qs0.psi, 1);
	CHECK_EQ(qs1.iqt_writes - qs0.iqt_writes, 1);
	CHECK_EQ(qs1.iqe + qs1.ite + qs1.ice + qs1.timeouts, 0);

	/* vtd_inv_sync from the slow path. */
	d = dsi(4);
	CHECK_EQ(vtd_inv_sync(env.u, &d, 1), 0);
	d = vtd_desc_wait(VTD_WAIT_SW, 1, 0);
	EXPECT_RC(vtd_inv_sync(env.u, &d, 1), -EINVAL);
	/* 256-bit-only types on a 128-bit queue. */
	if (want_bytes == 16) {
		d = vtd_desc_piotlb(VTD_PIOTLB_PASID, 1, 0, 0, 0, 0);
		EXPECT_RC(vtd_qctx_add(c, &d), -ENOTSUP);
	} else {
		d = vtd_desc_piotlb(VTD_PIOTLB_PASID, 1, 0, 0, 0, 0);
		CHECK_EQ(vtd_inv_sync(env.u, &d, 1), 0);
		CHECK_EQ(emu_desc(env.emu, VTDEMU_DS_PIOTLB_PASID), 1);
	}
	/* The register page: IQT == IQH, no error. */
	CHECK_EQ(vtdemu_reg_read(env.emu, VTD_REG_IQT, 8),
		 vtdemu_reg_read(env.emu, VTD_REG_IQH, 8));
	CHECK_EQ(vtdemu_reg_read(env.emu, VTD_REG_FSTS, 4) & VTD_FSTS_ERRORS, 0);
	drv_close(&env);
}

static void test_submit_legacy_128(void)
{
	submit_basic("qemu-cm-on", 16);
}

static void test_submit_scalable_256(void)
{
	submit_basic("server", 32);
}

static void wrap(const char *preset, uint32_t entries)
{
	struct vtd_unit_params p;
	struct drv_env env;
	struct vtd_unit_info info;
	struct vtd_qi_stats qs;
	struct vtd_qctx *c;
	uint64_t dom0, waits0, total = 0;
	uint32_t seq = 0, first = 0;
	int bad_rc = 0;

	vtd_unit_params_init(&p);
	p.enable_translation = true;
	p.qi_entries = entries;
	TRY(qi_open(&env, preset, VTDEMU_INLINE, 0, &p), "open");
	TRY(vtd_unit_get_info(env.u, &info), "info");
	CHECK_EQ(info.qi_entries, entries);
	c = vtd_qctx_get(env.u, rte_lcore_id());
	REQUIRE(c != NULL, "context");
	dom0 = emu_desc(env.emu, VTDEMU_DS_IOTLB_DOMAIN);
	waits0 = emu_stats(env.emu).wait_status_writes;

	/* Batches of 1..13 plus a wait, some waited at once, most not:
	 * many laps of the ring. */
	for (unsigned int i = 0; i < 40 * entries / 8; i++) {
		unsigned int k = 1 + (i * 7) % 13;
		int rc;

		for (unsigned int j = 0; j < k; j++) {
			struct vtd_desc d = dsi((uint16_t)(1 + j));

			rc = vtd_qctx_add(c, &d);
			if (rc && !bad_rc)
				bad_rc = rc;
		}
		total += k;
		rc = vtd_qctx_submit(c, &seq);
		if (rc && !bad_rc)
			bad_rc = rc;
		if (i == 0)
			first = seq;
		if (i % 5 == 0) {
			rc = vtd_qctx_wait(c, seq);
			if (rc && !bad_rc)
				bad_rc = rc;
		}
	}
	CHECK_EQ(bad_rc, 0);
	CHECK_EQ(vtd_qctx_wait(c, seq), 0);
	CHECK(vtd_qctx_done(c, first), "first batch done");
	CHECK_EQ(emu_desc(env.emu, VTDEMU_DS_IOTLB_DOMAIN) - dom0, total);
	CHECK_EQ(emu_stats(env.emu).wait_status_writes - waits0,
		 40 * entries / 8);
	vtd_qi_stats_get(env.u, &qs);
	CHECK(total > 5 * entries, "%" PRIu64 " descriptors, %u slots", total,
	      entries);
	CHECK(qs.head_reads > 0, "IQH read when the ring ran short");
	CHECK(qs.head_reads < total / 4, "IQH read %" PRIu64 " times for %"
	      PRIu64 " descriptors", qs.head_reads, total);
	drv_close(&env);
}

static void test_wrap_128(void)
{
	wrap("qemu-cm-on", 256);
}

static void test_wrap_256(void)
{
	wrap("server", 128);
}

/* Auto-submit: more descriptors than a batch holds. */
static void test_batch_overflow(void)
{
	struct drv_env env;
	struct vtd_qctx *c;
	uint64_t dom0;
	uint32_t seq;

	TRY(qi_open(&env, "qemu-cm-on", VTDEMU_INLINE, 0, NULL), "open");
	c = vtd_qctx_get(env.u, rte_lcore_id());
	REQUIRE(c != NULL, "context");
	dom0 = emu_desc(env.emu, VTDEMU_DS_IOTLB_DOMAIN);
	for (unsigned int i = 0; i < 1000; i++) {
		struct vtd_desc d = dsi(7);

		TRY(vtd_qctx_add(c, &d), "add %u", i);
	}
	TRY(vtd_qctx_submit(c, &seq), "submit");
	CHECK_EQ(vtd_qctx_wait(c, seq), 0);
	CHECK_EQ(emu_desc(env.emu, VTDEMU_DS_IOTLB_DOMAIN) - dom0, 1000);
	drv_close(&env);
}

/* ---------------------------------------------------------------------------
 * Two lcores at once.
 */
struct stress {
	struct vtd_unit *u;
	uint64_t until_ns;
	uint16_t did;
	unsigned int wait_every;
	/* results */
	uint64_t descs, submits, waits_ok;
	uint64_t eio, einval, etimedout, other;
	uint64_t resubmits;
};

static void stress_count(struct stress *s, int rc)
{
	if (rc == 0)
		s->waits_ok++;
	else if (rc == -EIO)
		s->eio++;
	else if (rc == -EINVAL)
		s->einval++;
	else if (rc == -ETIMEDOUT)
		s->etimedout++;
	else
		s->other++;
}

static int stress_main(void *arg)
{
	struct stress *s = arg;
	struct vtd_qctx *c = vtd_qctx_get(s->u, rte_lcore_id());
	uint32_t seq = 0, x = 2463534242u ^ s->did;
	uint64_t iter = 0;

	if (c == NULL) {
		s->other++;
		return -1;
	}
	while (now_ns() < s->until_ns) {
		unsigned int k;
		int rc;

		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		k = 1 + x % 8;
		for (unsigned int j = 0; j < k; j++) {
			struct vtd_desc d = (j & 1) ? psi(s->did, (uint64_t)j << 12, 0)
						    : dsi(s->did);

			rc = vtd_qctx_add(c, &d);
			if (rc)
				s->other++;
		}
		rc = vtd_qctx_submit(c, &seq);
		if (rc) {
			s->other++;
			continue;
		}
		s->descs += k;
		s->submits++;
		if (++iter % s->wait_every == 0) {
			rc = vtd_qctx_wait(c, seq);
			if (rc == -EIO) {
				/* An ITE aborted it: resubmit (the same
				 * invalidation again is harmless). */
				struct vtd_desc d = dsi(s->did);

				s->resubmits++;
				vtd_qctx_add(c, &d);
				s->descs++;
				s->submits++;
				if (vtd_qctx_submit(c, &seq) == 0)
					rc = vtd_qctx_wait(c, seq);
			}
			stress_count(s, rc);
		}
	}
	stress_count(s, vtd_qctx_wait(c, seq));
	return 0;
}

static void stress_check(const struct stress *s, const char *who)
{
	CHECK(s->einval == 0, "%s: %" PRIu64 " -EINVAL", who, s->einval);
	CHECK(s->etimedout == 0, "%s: %" PRIu64 " -ETIMEDOUT", who, s->etimedout);
	CHECK(s->other == 0, "%s: %" PRIu64 " other errors", who, s->other);
	CHECK(s->submits > 0, "%s: submitted nothing", who);
}

/* entries: 0 for the default queue; the smallest (256) laps hundreds of
 * times in a run (fill marks reused, IQT wrapping). */
static void two_lcores(enum vtdemu_mode mode, uint32_t entries)
{
	const char *name = mode == VTDEMU_THREADED ? "threaded" : "inline";
	struct drv_env env;
	struct stress s[2];
	struct vtd_qi_stats qs0, qs1;
	struct vtdemu_stats e0, e1;
	struct vtd_unit_params p;
	uint64_t descs, submits;

	if (rte_lcore_count() < 2 || !rte_lcore_is_enabled(1))
		SKIP_TEST("needs lcore 1");
	vtd_unit_params_init(&p);
	p.enable_translation = true;
	p.qi_entries = entries;
	TRY(qi_open(&env, "qemu-cm-on", mode, 0, &p), "open");
	vtd_qi_stats_get(env.u, &qs0);
	e0 = emu_stats(env.emu);
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 2; i++) {
		s[i].u = env.u;
		s[i].until_ns = now_ns() + 700 * MS;
		s[i].did = (uint16_t)(10 + i);
		s[i].wait_every = i == 0 ? 1 : 3;
	}
	REQUIRE(launch_l1(stress_main, &s[1]) == 0, "launch");
	stress_main(&s[0]);
	join_l1();
	CHECK_EQ(vtdemu_quiesce(env.emu, 1000 * MS), 0);
	stress_check(&s[0], "lcore 0");
	stress_check(&s[1], "lcore 1");

	vtd_qi_stats_get(env.u, &qs1);
	e1 = emu_stats(env.emu);
	descs = s[0].descs + s[1].descs;
	submits = s[0].submits + s[1].submits;
	CHECK_EQ((e1.desc[VTDEMU_DS_IOTLB_DOMAIN] - e0.desc[VTDEMU_DS_IOTLB_DOMAIN]) +
		 (e1.desc[VTDEMU_DS_IOTLB_PAGE] - e0.desc[VTDEMU_DS_IOTLB_PAGE]),
		 descs);
	CHECK_EQ(e1.wait_status_writes - e0.wait_status_writes, submits);
	CHECK_EQ(qs1.submits - qs0.submits, submits);
	CHECK_EQ(qs1.descs - qs0.descs, descs + submits);
	CHECK_EQ(e1.iqt_writes - e0.iqt_writes, qs1.iqt_writes - qs0.iqt_writes);
	CHECK(qs1.iqt_writes - qs0.iqt_writes <= submits, "IQT writes %" PRIu64
	      " > submits %" PRIu64, qs1.iqt_writes - qs0.iqt_writes, submits);
	printf("# %s, 2 lcores: %" PRIu64 " batches, %" PRIu64
	       " descriptors, %" PRIu64 " IQT writes (%.1f%% coalesced), %"
	       PRIu64 " IQH reads\n", name, submits, descs,
	       qs1.iqt_writes - qs0.iqt_writes,
	       100.0 * (double)(submits - (qs1.iqt_writes - qs0.iqt_writes)) /
	       (double)submits, qs1.head_reads - qs0.head_reads);
	CHECK_EQ(qs1.timeouts - qs0.timeouts, 0);
	drv_close(&env);
}

static void test_two_lcores_threaded(void)
{
	two_lcores(VTDEMU_THREADED, 0);
}

/* Inline, the publisher runs the unit for every batch it publishes, its
 * own and the other lcore's: a lost batch is a wait that times out, an
 * IQT write that goes backwards shows in the unit's descriptor counts. */
static void test_two_lcores_inline(void)
{
	two_lcores(VTDEMU_INLINE, 256);
}

/* Two lcores submit at the same moment, round after round, and each waits
 * for its own batch while the other submits nothing more: a batch that the
 * publisher of the moment fails to pick up (its producer found pub_lock
 * taken, poked it and left) is never published by anyone, and its wait
 * runs into the bound. In the busy stress above a later submission may
 * still publish it in time. A planted "unlock whatever the pokes" in
 * qi_publish fails this test (timeouts), the inline stress above
 * (descriptor and wait counts, timeouts) and test_two_lcores_no_stale. */
struct lockstep {
	struct vtd_unit *u;
	uint16_t did;
	uint64_t until_ns;
	unsigned int *arrive;       /* shared barrier count */
	uint64_t rounds, timeouts, errors;
};

static int lockstep_main(void *arg)
{
	struct lockstep *l = arg;
	struct vtd_qctx *c = vtd_qctx_get(l->u, rte_lcore_id());
	uint32_t seq;

	if (c == NULL) {
		l->errors++;
		return -1;
	}
	for (uint64_t r = 1;; r++) {
		uint64_t give_up = l->until_ns + 200 * MS;
		struct vtd_desc d = psi(l->did, r << 12, 0);
		int rc;

		/* Both arrive, then both submit (the other one's give-up
		 * time bounds the barrier). */
		__atomic_fetch_add(l->arrive, 1, __ATOMIC_ACQ_REL);
		while (__atomic_load_n(l->arrive, __ATOMIC_ACQUIRE) < 2 * r)
			if (now_ns() > give_up)
				return 0;
		if (now_ns() > l->until_ns) {
			/* Past the end: one more arrival releases the other
			 * from the next barrier. */
			__atomic_fetch_add(l->arrive, 1, __ATOMIC_ACQ_REL);
			return 0;
		}
		if (vtd_qctx_add(c, &d) || vtd_qctx_submit(c, &seq)) {
			l->errors++;
			continue;
		}
		rc = vtd_qctx_wait(c, seq);
		if (rc == -ETIMEDOUT)
			l->timeouts++;
		else if (rc)
			l->errors++;
		l->rounds++;
	}
}

/* handoff: 0 makes every producer that finds pub_lock taken poke and leave
 * at once, so the leave-it-to-the-holder path runs at nearly every round;
 * the default waits for the holder first and pokes only a slow one. */
static void lockstep_run(bool handoff)
{
	struct drv_env env;
	struct vtd_unit_params p;
	struct lockstep l[2];
	unsigned int arrive = 0;
	unsigned int lvl;

	if (rte_lcore_count() < 2 || !rte_lcore_is_enabled(1))
		SKIP_TEST("needs lcore 1");
	vtd_unit_params_init(&p);
	p.enable_translation = true;
	p.timeout_ns = 50 * MS;
	TRY(qi_open(&env, "qemu-cm-off", VTDEMU_INLINE, 0, &p), "open");
	if (!handoff)
		env.u->qi->handoff_cycles = 0;
	memset(l, 0, sizeof(l));
	for (int i = 0; i < 2; i++) {
		l[i].u = env.u;
		l[i].did = (uint16_t)(20 + i);
		l[i].until_ns = now_ns() + 400 * MS;
		l[i].arrive = &arrive;
	}
	lvl = drv_quiet();
	REQUIRE(launch_l1(lockstep_main, &l[1]) == 0, "launch");
	lockstep_main(&l[0]);
	join_l1();
	drv_loud(lvl);
	for (int i = 0; i < 2; i++) {
		CHECK(l[i].rounds > 0, "lcore %d: no round", i);
		CHECK_EQ(l[i].timeouts, 0);
		CHECK_EQ(l[i].errors, 0);
	}
	/* The contention counters, printed: how often the producers met
	 * depends on how the two lcores are scheduled (taking turns on one
	 * CPU, they never do), so only what holds either way is checked here;
	 * test_publish_handoff_bound checks exact counts. */
	struct vtd_qi_stats qs;

	vtd_qi_stats_get(env.u, &qs);
	CHECK(qs.handoffs <= qs.publish_waits, "%" PRIu64 " hand-offs, %"
	      PRIu64 " waits", qs.handoffs, qs.publish_waits);
	printf("# lockstep (%s): %" PRIu64 " + %" PRIu64 " rounds, "
	       "%" PRIu64 " found the lock taken, %" PRIu64 " left to it\n",
	       handoff ? "wait for the holder" : "poke at once", l[0].rounds,
	       l[1].rounds, qs.publish_waits, qs.handoffs);
	drv_close(&env);
}

static void test_two_lcores_lockstep(void)
{
	lockstep_run(false);
	lockstep_run(true);
}

/* A holder of pub_lock that does not let go (descheduled) must not hold
 * another producer's submit for longer than the hand-off bound: the
 * producer pokes and leaves, and the next publisher publishes its batch.
 * The test itself plays the holder: it sets the lock bit, waits for lcore
 * 1's submit to return, then clears the lock and submits a batch of its
 * own, whose publication carries lcore 1's (its mark is below ours).
 * Planted: an unbounded wait for the holder (handoff_cycles huge) keeps
 * the submit from returning while the lock is held, which the check
 * sees. */
struct holder_arg {
	struct vtd_unit *u;
	uint32_t seq;
	int submitted;               /* [A] 1 when the submit returned */
	int rc, wait_rc;
	int go_wait;                 /* [A] */
};

static int held_submitter(void *arg)
{
	struct holder_arg *h = arg;
	struct vtd_qctx *c = vtd_qctx_get(h->u, rte_lcore_id());
	struct vtd_desc d = psi(31, 0x1000, 0);

	h->rc = c ? vtd_qctx_add(c, &d) : -ENOMEM;
	if (h->rc == 0)
		h->rc = vtd_qctx_submit(c, &h->seq);
	__atomic_store_n(&h->submitted, 1, __ATOMIC_RELEASE);
	if (h->rc)
		return 0;
	while (!__atomic_load_n(&h->go_wait, __ATOMIC_ACQUIRE))
		rte_pause();
	h->wait_rc = vtd_qctx_wait(c, h->seq);
	return 0;
}

/* Returns whether lcore 1's submit returned while the lock was held. */
static bool handoff_scenario(uint64_t handoff_cycles)
{
	struct drv_env env;
	struct holder_arg h = { 0 };
	struct vtd_qctx *mine;
	struct vtd_desc d = psi(32, 0x2000, 0);
	uint32_t seq = 0;
	uint64_t give_up;
	bool early;

	if (qi_open(&env, "qemu-cm-off", VTDEMU_INLINE, 0, NULL)) {
		CHECK(0, "open");
		return false;
	}
	env.u->qi->handoff_cycles = handoff_cycles;
	h.u = env.u;
	/* Play a holder that is not going anywhere. */
	__atomic_fetch_or(&env.u->qi->pub_lock, VTD_QI_PUB_LOCKED,
			  __ATOMIC_ACQUIRE);
	if (launch_l1(held_submitter, &h) != 0) {
		CHECK(0, "launch");
		__atomic_fetch_and(&env.u->qi->pub_lock, ~VTD_QI_PUB_LOCKED,
				   __ATOMIC_RELEASE);
		drv_close(&env);
		return false;
	}
	give_up = now_ns() + 200 * MS;
	while (!__atomic_load_n(&h.submitted, __ATOMIC_ACQUIRE) &&
	       now_ns() < give_up)
		rte_pause();
	early = __atomic_load_n(&h.submitted, __ATOMIC_ACQUIRE);
	/* Let go as a publisher would, minus the publishing, which our own
	 * submit below does (it scans from prod_tail, so it finds lcore 1's
	 * mark first). Pokes taken over by that scan are cleared with it. */
	__atomic_store_n(&env.u->qi->pub_lock, 0, __ATOMIC_RELEASE);
	mine = vtd_qctx_get(env.u, rte_lcore_id());
	CHECK(mine != NULL, "main context");
	while (!__atomic_load_n(&h.submitted, __ATOMIC_ACQUIRE))
		rte_pause();
	if (mine) {
		CHECK_EQ(vtd_qctx_add(mine, &d), 0);
		CHECK_EQ(vtd_qctx_submit(mine, &seq), 0);
		CHECK_EQ(vtd_qctx_wait(mine, seq), 0);
	}
	__atomic_store_n(&h.go_wait, 1, __ATOMIC_RELEASE);
	join_l1();
	CHECK_EQ(h.rc, 0);
	CHECK_EQ(h.wait_rc, 0);
	/* A submit that returned while the lock was held found it taken
	 * and left its batch to the holder: one wait, one hand-off. Any other
	 * (it waited past our release, or only got there after it) left
	 * none. */
	struct vtd_qi_stats qs;

	vtd_qi_stats_get(env.u, &qs);
	if (early) {
		CHECK_EQ(qs.publish_waits, 1);
		CHECK_EQ(qs.handoffs, 1);
	} else {
		CHECK(qs.publish_waits <= 1, "%" PRIu64 " waits",
		      qs.publish_waits);
		CHECK_EQ(qs.handoffs, 0);
	}
	drv_close(&env);
	return early;
}

/* The queue's verbs refuse NULL pointers with -EINVAL (and a log line)
 * instead of crashing inside the queue. */
static void test_null_args(void)
{
	struct drv_env env;
	struct vtd_qctx *c;
	struct vtd_desc d = psi(1, 0x1000, 0);
	uint32_t seq;

	TRY(qi_open(&env, "qemu-cm-off", VTDEMU_INLINE, 0, NULL), "open");
	c = vtd_qctx_get(env.u, rte_lcore_id());
	REQUIRE(c != NULL, "context");
	CHECK(vtd_qctx_get(NULL, 0) == NULL, "qctx_get(NULL unit)");
	CHECK_EQ(vtd_qctx_add(NULL, &d), -EINVAL);
	CHECK_EQ(vtd_qctx_add(c, NULL), -EINVAL);
	CHECK_EQ(vtd_qctx_submit(NULL, &seq), -EINVAL);
	CHECK_EQ(vtd_qctx_submit(c, NULL), -EINVAL);
	CHECK_EQ(vtd_qctx_wait(NULL, 1), -EINVAL);
	CHECK_EQ(vtd_qctx_sync(NULL), -EINVAL);
	/* A poll loop on a NULL context keeps getting "not done", and the
	 * log says so once, not at every turn: the log stream is read back
	 * (at most one line, as an earlier test may have had it said). */
	{
		char *buf = NULL;
		size_t blen = 0;
		FILE *f = open_memstream(&buf, &blen);
		unsigned int said = 0;

		REQUIRE(f != NULL, "memstream");
		rte_openlog_stream(f);
		for (int i = 0; i < 3; i++)
			CHECK(!vtd_qctx_done(NULL, (uint32_t)i),
			      "qctx_done(NULL)");
		rte_openlog_stream(NULL);
		fclose(f);
		for (const char *p = buf; p && (p = strstr(p, "qctx_done: NULL"));
		     p++)
			said++;
		CHECK(said <= 1, "logged %u times", said);
		free(buf);
	}
	CHECK_EQ(vtd_inv_range(NULL, NULL, 0, 4096, 0), -EINVAL);
	CHECK_EQ(vtd_inv_range(c, NULL, 0, 4096, 0), -EINVAL);
	/* Nothing was queued by the refusals: a sync still works. */
	CHECK_EQ(vtd_qctx_sync(c), 0);
	drv_close(&env);
}

static void test_publish_handoff_bound(void)
{
	if (rte_lcore_count() < 2 || !rte_lcore_is_enabled(1))
		SKIP_TEST("needs lcore 1");
	CHECK(handoff_scenario(rte_get_timer_hz() / 100000),
	      "a 10 us hand-off bound: the submit returned while the lock "
	      "was held");
	CHECK(handoff_scenario(0), "poke at once: the submit returned");
	/* The planted bug: no bound. */
	CHECK(!handoff_scenario(UINT64_MAX / 4),
	      "an unbounded wait for the holder must keep the submit from "
	      "returning (else this test could not fail)");
}

/* Real invalidations from two lcores, each on its own device and domain:
 * map, DMA (the caches fill), unmap, invalidate, wait, DMA must fault. The
 * stale checker must see nothing. */
struct mu_arg {
	struct drv_env *env;
	struct vtd_domain *dom;
	uint16_t sid;
	uint64_t iova_base;
	uint64_t phys;
	uint64_t until_ns;
	uint64_t cycles, faults_ok, errors;
};

static int map_unmap_main(void *arg)
{
	struct mu_arg *a = arg;
	struct vtd_qctx *c = vtd_qctx_get(a->env->u, rte_lcore_id());
	uint8_t buf[64];

	if (c == NULL) {
		a->errors++;
		return -1;
	}
	while (now_ns() < a->until_ns) {
		uint64_t iova = a->iova_base + ((a->cycles % 64) << 12);
		unsigned int pages = 1 + (unsigned int)(a->cycles % 3);
		struct vtd_gather g = VTD_GATHER_INIT;
		struct vtdemu_fault_info f;

		if (vtd_map(a->dom, iova, a->phys, (uint64_t)pages << 12,
			    VTD_PERM_READ | VTD_PERM_WRITE)) {
			a->errors++;
			break;
		}
		/* Caching mode: not-present entries may be cached. */
		if (vtd_domain_map_flush(a->dom) &&
		    (vtd_inv_range(c, a->dom, iova, (uint64_t)pages << 12,
				   VTD_INV_MAP) || vtd_qctx_sync(c)))
			a->errors++;
		if (vtdemu_dma_read(a->env->emu, a->sid, VTDEMU_NO_PASID, iova,
				    buf, sizeof(buf), NULL) != (int64_t)sizeof(buf))
			a->errors++;
		if (vtd_unmap(a->dom, iova, (uint64_t)pages << 12, &g)) {
			a->errors++;
			break;
		}
		if (vtd_inv_range(c, a->dom, g.start, g.end - g.start,
				  g.nr_freed ? VTD_INV_TABLES_FREED : 0) ||
		    vtd_qctx_sync(c))
			a->errors++;
		vtd_gather_release(a->dom, &g);
		if (vtdemu_dma_read(a->env->emu, a->sid, VTDEMU_NO_PASID, iova,
				    buf, sizeof(buf), &f) == -EFAULT)
			a->faults_ok++;
		a->cycles++;
	}
	return 0;
}

static void test_two_lcores_no_stale(void)
{
	struct drv_env env;
	struct vtd_domain *dom[2] = { NULL, NULL };
	struct drv_buf b;
	struct mu_arg a[2];
	uint32_t lvl;

	if (rte_lcore_count() < 2 || !rte_lcore_is_enabled(1))
		SKIP_TEST("needs lcore 1");
	TRY(qi_open(&env, "qemu-cm-on", VTDEMU_THREADED, 0, NULL), "open");
	TRY(drv_buf_alloc(&b, 4 * 4096, 4096), "buffer");
	memset(a, 0, sizeof(a));
	for (int i = 0; i < 2; i++) {
		struct vtd_domain_params dp;
		struct vtd_attach_params ap = { .sid = (uint16_t)(0x100 + i),
						.pasid = VTD_NO_PASID };

		vtd_domain_params_init(&dp);
		TRY(vtd_domain_create(env.u, &dp, &dom[i]), "domain %d", i);
		TRY(vtd_attach(dom[i], env.u, &ap), "attach %d", i);
		a[i] = (struct mu_arg){ .env = &env, .dom = dom[i],
			.sid = ap.sid, .iova_base = 0x10000000ULL * (i + 1),
			.phys = b.iova, .until_ns = now_ns() + 500 * MS };
	}
	/* The faults the unmapped accesses record are expected. */
	lvl = drv_quiet();
	REQUIRE(launch_l1(map_unmap_main, &a[1]) == 0, "launch");
	map_unmap_main(&a[0]);
	join_l1();
	vtd_fault_drain(env.u, NULL, 0);
	drv_loud(lvl);
	for (int i = 0; i < 2; i++) {
		CHECK(a[i].errors == 0, "lcore %d: %" PRIu64 " errors", i,
		      a[i].errors);
		CHECK(a[i].cycles > 0, "lcore %d: no cycle", i);
		CHECK(a[i].faults_ok == a[i].cycles, "lcore %d: %" PRIu64
		      " of %" PRIu64 " unmapped accesses faulted", i,
		      a[i].faults_ok, a[i].cycles);
	}
	CHECK_EQ(vtdemu_stale_count(env.emu), 0);
	printf("# map/unmap/invalidate cycles: %" PRIu64 " + %" PRIu64 "\n",
	       a[0].cycles, a[1].cycles);
	for (int i = 0; i < 2; i++) {
		vtd_detach(dom[i], env.u, (uint16_t)(0x100 + i));
		vtd_domain_destroy(dom[i]);
	}
	drv_buf_free(&b);
	drv_close(&env);
}

/* ---------------------------------------------------------------------------
 * Faults.
 */
static struct stress bg;

static void bg_start(struct drv_env *env, uint16_t did, uint64_t ms)
{
	memset(&bg, 0, sizeof(bg));
	bg.u = env->u;
	bg.did = did;
	bg.wait_every = 1;
	bg.until_ns = now_ns() + ms * MS;
	if (launch_l1(stress_main, &bg) != 0)
		bg.other = 1;
}

static void bg_stop(const char *who)
{
	join_l1();
	stress_check(&bg, who);
}

/* An invalid descriptor at position pos of a batch of n, while lcore 1
 * submits valid batches all along. */
static void iqe_at(struct drv_env *env, unsigned int pos, unsigned int n)
{
	struct vtd_qctx *c = vtd_qctx_get(env->u, rte_lcore_id());
	struct vtd_qi_stats q0, q1;
	uint32_t seq;

	vtd_qi_stats_get(env->u, &q0);
	for (unsigned int i = 0; i < n; i++) {
		struct vtd_desc d = i == pos ? bad() : dsi(2);

		TRY(vtd_qctx_add(c, &d), "add");
	}
	TRY(vtd_qctx_submit(c, &seq), "submit");
	CHECK(vtd_qctx_wait(c, seq) == -EINVAL, "bad descriptor at %u of %u: "
	      "not -EINVAL", pos, n);
	/* The queue goes on. */
	{
		struct vtd_desc d = dsi(2);

		TRY(vtd_qctx_add(c, &d), "add");
	}
	CHECK_EQ(vtd_qctx_sync(c), 0);
	vtd_qi_stats_get(env->u, &q1);
	CHECK_EQ(q1.iqe - q0.iqe, 1);
	CHECK_EQ(vtdemu_reg_read(env->emu, VTD_REG_FSTS, 4) & VTD_FSTS_IQE, 0);
}

static void test_iqe_positions_concurrent(void)
{
	struct drv_env env;
	struct vtd_unit_params p;
	uint32_t lvl;

	if (rte_lcore_count() < 2 || !rte_lcore_is_enabled(1))
		SKIP_TEST("needs lcore 1");
	vtd_unit_params_init(&p);
	p.enable_translation = true;
	p.timeout_ns = 2000 * MS;
	for (int mode = 0; mode < 2; mode++) {
		TRY(qi_open(&env, mode ? "server" : "qemu-cm-on",
			    mode ? VTDEMU_THREADED : VTDEMU_INLINE, 0, &p), "open");
		lvl = drv_quiet();
		bg_start(&env, 5, 400);
		iqe_at(&env, 0, 5);
		iqe_at(&env, 2, 5);
		iqe_at(&env, 4, 5);
		iqe_at(&env, 0, 1);
		bg_stop("background");
		drv_loud(lvl);
		CHECK(bg.waits_ok > 0, "background made progress");
		drv_close(&env);
	}
}

/* The injected kind: the nth descriptor fetched, including our wait. */
static void test_iqe_injected(void)
{
	struct drv_env env;
	struct vtd_qctx *c;
	struct vtdemu_injection inj = { .kind = VTDEMU_INJECT_BAD_DESC };
	uint32_t seq, lvl;

	TRY(qi_open(&env, "qemu-cm-on", VTDEMU_INLINE, 0, NULL), "open");
	c = vtd_qctx_get(env.u, rte_lcore_id());
	lvl = drv_quiet();
	for (unsigned int nth = 0; nth <= 3; nth++) {   /* 3: the wait */
		inj.nth = nth;
		TRY(vtdemu_inject(env.emu, &inj), "inject");
		for (unsigned int i = 0; i < 3; i++) {
			struct vtd_desc d = dsi(1);

			TRY(vtd_qctx_add(c, &d), "add");
		}
		TRY(vtd_qctx_submit(c, &seq), "submit");
		CHECK(vtd_qctx_wait(c, seq) == -EINVAL, "nth %u: not -EINVAL",
		      nth);
		/* An empty sync waits for that same batch: -EINVAL again. */
		CHECK_EQ(vtd_qctx_sync(c), -EINVAL);
		{
			struct vtd_desc d = dsi(1);

			TRY(vtd_qctx_add(c, &d), "add");
		}
		CHECK_EQ(vtd_qctx_sync(c), 0);
	}
	drv_loud(lvl);
	CHECK_EQ(emu_stats(env.emu).invalid_descs, 4);
	drv_close(&env);
}

static void test_ite(void)
{
	struct drv_env env;
	struct vtd_qctx *c;
	struct vtd_qi_stats qs;
	struct vtd_unit_params p;
	struct vtdemu_injection inj = { .kind = VTDEMU_INJECT_DEVTLB_TIMEOUT,
					.sid = 0x42, .count = 1 };
	uint32_t seq, lvl;
	int rc;

	if (rte_lcore_count() < 2 || !rte_lcore_is_enabled(1))
		SKIP_TEST("needs lcore 1");
	vtd_unit_params_init(&p);
	p.enable_translation = true;
	p.timeout_ns = 2000 * MS;
	TRY(qi_open(&env, "server", VTDEMU_INLINE, 0, &p), "open");
	c = vtd_qctx_get(env.u, rte_lcore_id());
	lvl = drv_quiet();
	bg_start(&env, 6, 300);
	for (int round = 0; round < 3; round++) {
		struct vtd_desc d[3] = { dsi(1), vtd_desc_devtlb(0x42, 0, 0,
					 0x7000, 0), dsi(2) };

		TRY(vtdemu_inject(env.emu, &inj), "inject");
		for (int i = 0; i < 3; i++)
			TRY(vtd_qctx_add(c, &d[i]), "add");
		TRY(vtd_qctx_submit(c, &seq), "submit");
		rc = vtd_qctx_wait(c, seq);
		CHECK(rc == -EIO, "round %d: %d, not -EIO", round, rc);
		/* -EIO rather than -ETIMEDOUT: ITE was noticed, not waited out. */
		/* Resubmitted, it goes through. */
		for (int i = 0; i < 3; i++)
			TRY(vtd_qctx_add(c, &d[i]), "add");
		CHECK_EQ(vtd_qctx_sync(c), 0);
	}
	bg_stop("background");
	drv_loud(lvl);
	vtd_qi_stats_get(env.u, &qs);
	CHECK_EQ(qs.ite, 3);
	CHECK_EQ(emu_stats(env.emu).ite, 3);
	CHECK_EQ(vtdemu_reg_read(env.emu, VTD_REG_FSTS, 4) & VTD_FSTS_ERRORS, 0);
	printf("# ITE: background resubmitted %" PRIu64 " aborted batches\n",
	       bg.resubmits);
	drv_close(&env);
}

static void test_ice(void)
{
	struct drv_env env;
	struct vtd_qctx *c;
	struct vtd_qi_stats qs;
	struct vtdemu_injection inj = { .kind = VTDEMU_INJECT_ICE };
	struct vtd_desc d = vtd_desc_devtlb(0x42, 0, 0, 0x7000, 0);
	uint32_t lvl;

	TRY(qi_open(&env, "server", VTDEMU_INLINE, 0, NULL), "open");
	c = vtd_qctx_get(env.u, rte_lcore_id());
	TRY(vtdemu_inject(env.emu, &inj), "inject");
	TRY(vtd_qctx_add(c, &d), "add");
	CHECK_EQ(vtd_qctx_sync(c), 0);      /* the queue goes on (§6.5.2.10) */
	CHECK(vtdemu_reg_read(env.emu, VTD_REG_FSTS, 4) & VTD_FSTS_ICE,
	      "ICE raised");
	/* Housekeeping clears it. */
	lvl = drv_quiet();
	CHECK_EQ(vtd_fault_drain(env.u, NULL, 0), 0);
	drv_loud(lvl);
	CHECK_EQ(vtdemu_reg_read(env.emu, VTD_REG_FSTS, 4) & VTD_FSTS_ICE, 0);
	vtd_qi_stats_get(env.u, &qs);
	CHECK_EQ(qs.ice, 1);
	CHECK_EQ(vtd_qctx_sync(c), 0);
	drv_close(&env);
}

static void stall(enum vtdemu_mode mode)
{
	struct drv_env env;
	struct vtd_qctx *c;
	struct vtd_unit_params p;
	struct vtdemu_injection inj = { .kind = VTDEMU_INJECT_STALL };
	struct vtd_desc d = dsi(1);
	uint64_t t0, dt;
	uint32_t seq, lvl;
	int rc;

	vtd_unit_params_init(&p);
	p.enable_translation = true;
	p.timeout_ns = 200 * MS;
	TRY(qi_open(&env, "qemu-cm-on", mode, 0, &p), "open");
	c = vtd_qctx_get(env.u, rte_lcore_id());

	/* Shorter than the bound: the wait just takes longer. */
	inj.duration_ns = 30 * MS;
	TRY(vtdemu_inject(env.emu, &inj), "inject");
	TRY(vtd_qctx_add(c, &d), "add");
	t0 = now_ns();
	CHECK_EQ(vtd_qctx_sync(c), 0);
	dt = now_ns() - t0;
	/* Upper limits in this file only prove "gave up instead of spinning":
	 * generous (x10 + 2 s) so that a loaded machine never fails them. */
	CHECK(dt >= 20 * MS && dt < SLACK(200 * MS), "short stall waited %" PRIu64
	      " ms", dt / MS);

	/* Longer than the bound: -ETIMEDOUT within it, then usable. */
	inj.duration_ns = 0;
	TRY(vtdemu_inject(env.emu, &inj), "inject");
	TRY(vtd_qctx_add(c, &d), "add");
	TRY(vtd_qctx_submit(c, &seq), "submit");
	t0 = now_ns();
	lvl = drv_quiet();
	rc = vtd_qctx_wait(c, seq);
	drv_loud(lvl);
	dt = now_ns() - t0;
	CHECK_EQ(rc, -ETIMEDOUT);
	CHECK(dt >= 190 * MS && dt < SLACK(200 * MS), "long stall gave up after %"
	      PRIu64 " ms (bound 200)", dt / MS);
	vtdemu_inject_clear(env.emu);
	CHECK_EQ(vtd_qctx_wait(c, seq), 0);  /* it completes after all */
	TRY(vtd_qctx_add(c, &d), "add");
	CHECK_EQ(vtd_qctx_sync(c), 0);
	drv_close(&env);
}

static void test_stall_inline(void)
{
	stall(VTDEMU_INLINE);
}

static void test_stall_threaded(void)
{
	stall(VTDEMU_THREADED);
}

static void test_lost_wait(void)
{
	struct drv_env env;
	struct vtd_qctx *c;
	struct vtd_unit_params p;
	struct vtdemu_injection inj = { .kind = VTDEMU_INJECT_LOST_WAIT };
	struct vtd_desc d = dsi(1);
	struct vtd_qi_stats qs;
	uint64_t t0, dt;
	uint32_t lvl;

	vtd_unit_params_init(&p);
	p.enable_translation = true;
	p.timeout_ns = 100 * MS;
	TRY(qi_open(&env, "qemu-cm-on", VTDEMU_INLINE, 0, &p), "open");
	c = vtd_qctx_get(env.u, rte_lcore_id());
	TRY(vtdemu_inject(env.emu, &inj), "inject");
	TRY(vtd_qctx_add(c, &d), "add");
	t0 = now_ns();
	lvl = drv_quiet();
	CHECK_EQ(vtd_qctx_sync(c), -ETIMEDOUT);
	drv_loud(lvl);
	dt = now_ns() - t0;
	CHECK(dt < SLACK(100 * MS), "gave up after %" PRIu64 " ms (bound 100)",
	      dt / MS);
	vtd_qi_stats_get(env.u, &qs);
	CHECK_EQ(qs.timeouts, 1);
	TRY(vtd_qctx_add(c, &d), "add");
	CHECK_EQ(vtd_qctx_sync(c), 0);
	drv_close(&env);
}

/* ---------------------------------------------------------------------------
 * Register-based invalidation (ECAP.QI=0, or asked for).
 */
static void reg_mode(uint64_t ecap_clear, enum vtd_inval_mode inval)
{
	struct drv_env env;
	struct vtd_unit_params p;
	struct vtd_unit_info info;
	struct vtd_qctx *c;
	struct vtdemu_stats s0, s1;
	struct vtd_desc d[3] = { vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0), dsi(3),
				 psi(3, 0x10000, 4) };
	struct vtd_desc dt = vtd_desc_devtlb(0x10, 0, 0, 0, 0);
	uint32_t seq;

	vtd_unit_params_init(&p);
	p.enable_translation = true;
	p.inval = inval;
	TRY(qi_open(&env, "qemu-cm-off", VTDEMU_INLINE, ecap_clear, &p), "open");
	TRY(vtd_unit_get_info(env.u, &info), "info");
	CHECK(!info.queued, "register-based");
	s0 = emu_stats(env.emu);
	CHECK_EQ(vtd_inv_sync(env.u, d, 3), 0);
	s1 = emu_stats(env.emu);
	CHECK_EQ(s1.reg_inv[VTDEMU_DS_CC_GLOBAL] - s0.reg_inv[VTDEMU_DS_CC_GLOBAL], 1);
	CHECK_EQ(s1.reg_inv[VTDEMU_DS_IOTLB_DOMAIN] -
		 s0.reg_inv[VTDEMU_DS_IOTLB_DOMAIN], 1);
	CHECK_EQ(s1.reg_inv[VTDEMU_DS_IOTLB_PAGE] - s0.reg_inv[VTDEMU_DS_IOTLB_PAGE], 1);
	CHECK_EQ(s1.iqt_writes - s0.iqt_writes, 0);

	c = vtd_qctx_get(env.u, rte_lcore_id());
	REQUIRE(c != NULL, "context");
	TRY(vtd_qctx_add(c, &d[1]), "add");
	TRY(vtd_qctx_submit(c, &seq), "submit");
	CHECK(vtd_qctx_done(c, seq), "done synchronously");
	CHECK_EQ(vtd_qctx_wait(c, seq), 0);
	EXPECT_RC(vtd_qctx_add(c, &dt), -ENOTSUP);
	EXPECT_RC(vtd_inv_sync(env.u, &dt, 1), -ENOTSUP);
	drv_close(&env);
}

static void test_register_no_qi(void)
{
	reg_mode(VTD_ECAP_QI, VTD_INVAL_AUTO);
}

static void test_register_asked(void)
{
	reg_mode(0, VTD_INVAL_REGISTER);
}

/* ---------------------------------------------------------------------------
 * vtd_inv_range end to end, and the planted bugs.
 */
static void test_inv_range(void)
{
	struct drv_env env;
	struct vtd_domain *dom;
	struct vtd_domain_params dp;
	struct vtd_attach_params ap = { .sid = 0x30, .ats = true,
					.pasid = VTD_NO_PASID };
	struct vtd_qctx *c;
	struct vtdemu_stats s0, s1;
	struct vtd_qi_stats q0, q1;
	struct drv_buf b;
	uint8_t buf[8];

	TRY(qi_open(&env, "qemu-cm-on-devtlb", VTDEMU_INLINE, 0, NULL), "open");
	TRY(drv_buf_alloc(&b, 8 * 4096, 4096), "buffer");
	vtdemu_set_ats(env.emu, ap.sid, true);
	vtd_domain_params_init(&dp);
	TRY(vtd_domain_create(env.u, &dp, &dom), "domain");
	TRY(vtd_attach(dom, env.u, &ap), "attach");
	c = vtd_qctx_get(env.u, rte_lcore_id());
	TRY(vtd_map(dom, 0x200000, b.iova, 6 * 4096, VTD_PERM_READ), "map");
	if (vtd_domain_map_flush(dom)) {
		TRY(vtd_inv_range(c, dom, 0x200000, 6 * 4096, VTD_INV_MAP), "map inv");
		TRY(vtd_qctx_sync(c), "map sync");
	}
	for (int i = 0; i < 6; i++)
		CHECK_EQ(vtdemu_dma_read(env.emu, ap.sid, VTDEMU_NO_PASID,
					 0x200000 + i * 4096, buf, 8, NULL), 8);
	/* Unmap pages 1..5 (5 pages: blocks of 1 + 2 + 2), invalidate. */
	struct vtd_gather g = VTD_GATHER_INIT;
	TRY(vtd_unmap(dom, 0x201000, 5 * 4096, &g), "unmap");
	s0 = emu_stats(env.emu);
	vtd_qi_stats_get(env.u, &q0);
	TRY(vtd_inv_range(c, dom, 0x201000, 5 * 4096,
			  g.nr_freed ? VTD_INV_TABLES_FREED : 0), "inv");
	CHECK_EQ(vtd_qctx_sync(c), 0);
	vtd_gather_release(dom, &g);
	s1 = emu_stats(env.emu);
	vtd_qi_stats_get(env.u, &q1);
	CHECK_EQ(s1.desc[VTDEMU_DS_IOTLB_PAGE] - s0.desc[VTDEMU_DS_IOTLB_PAGE], 3);
	CHECK_EQ(s1.desc[VTDEMU_DS_DEVTLB] - s0.desc[VTDEMU_DS_DEVTLB], 3);
	CHECK_EQ(q1.psi - q0.psi, 3);
	CHECK_EQ(q1.devtlb - q0.devtlb, 3);
	CHECK_EQ(s1.iqt_writes - s0.iqt_writes, 1);   /* one batch */
	uint32_t lvl = drv_quiet();
	for (int i = 1; i < 6; i++)
		CHECK_EQ(vtdemu_dma_read(env.emu, ap.sid, VTDEMU_NO_PASID,
					 0x200000 + i * 4096, buf, 8, NULL),
			 -EFAULT);
	vtd_fault_drain(env.u, NULL, 0);
	drv_loud(lvl);
	CHECK_EQ(vtdemu_dma_read(env.emu, ap.sid, VTDEMU_NO_PASID, 0x200000,
				 buf, 8, NULL), 8);
	CHECK_EQ(vtdemu_stale_count(env.emu), 0);

	/* Everything: [0, ~0) is a DSI. */
	s0 = emu_stats(env.emu);
	TRY(vtd_inv_range(c, dom, 0, 0, 0), "inv all");
	CHECK_EQ(vtd_qctx_sync(c), 0);
	s1 = emu_stats(env.emu);
	CHECK_EQ(s1.desc[VTDEMU_DS_IOTLB_DOMAIN] - s0.desc[VTDEMU_DS_IOTLB_DOMAIN], 1);
	EXPECT_RC(vtd_inv_range(c, dom, UINT64_MAX - 4095, 8192, 0), -ERANGE);

	vtd_detach(dom, env.u, ap.sid);
	vtd_domain_destroy(dom);
	drv_buf_free(&b);
	drv_close(&env);
}

/* A page-selective plan stays page-selective however full the lcore's
 * batch is when it is added: a plan that does not fit in what is left of
 * the batch makes the batch go first, it does not turn into a
 * domain-selective invalidation (under caching mode a DSI makes the
 * hypervisor re-walk the whole domain). Every fill level is tried. */
static void test_inv_range_psi_at_any_fill(void)
{
	struct drv_env env;
	struct vtd_domain *dom;
	struct vtd_domain_params dp;
	struct vtd_attach_params ap = { .sid = 0x30, .pasid = VTD_NO_PASID };
	struct vtd_qctx *c;
	struct vtd_qi_stats q0, q1;
	uint64_t psi_want = 0;

	TRY(qi_open(&env, "qemu-cm-on", VTDEMU_INLINE, 0, NULL), "open");
	vtd_domain_params_init(&dp);
	TRY(vtd_domain_create(env.u, &dp, &dom), "domain");
	TRY(vtd_attach(dom, env.u, &ap), "attach");
	c = vtd_qctx_get(env.u, rte_lcore_id());
	REQUIRE(c != NULL, "context");
	vtd_qi_stats_get(env.u, &q0);
	for (unsigned int fill = 0; fill < 300; fill++) {
		for (unsigned int i = 0; i < fill; i++)
			TRY(vtd_inv_range(c, dom, 0x100000 + (uint64_t)i * 4096,
					  4096, 0), "single page");
		/* Pages 1 and 2: two blocks (page 1 is odd). */
		TRY(vtd_inv_range(c, dom, 0x1000, 0x2000, 0), "two blocks");
		TRY(vtd_qctx_sync(c), "sync");
		psi_want += fill + 2;
	}
	vtd_qi_stats_get(env.u, &q1);
	CHECK_EQ(q1.dsi - q0.dsi, 0);
	CHECK_EQ(q1.psi - q0.psi, psi_want);
	vtd_detach(dom, env.u, ap.sid);
	vtd_domain_destroy(dom);
	drv_close(&env);
}

/* CAP.RWBF=1 (VT-d spec §6.8): the unit may hold table writes in a write
 * buffer, so the map-side flush of such a unit is a write-buffer flush
 * (its IOTLB caches no not-present entry without CM: no IOTLB descriptor
 * is needed), and an unmap's invalidation is preceded by one. Queued and
 * register-based invalidation alike. */
static void test_rwbf_flushes(void)
{
	for (int queued = 0; queued < 2; queued++) {
		struct drv_env env;
		struct vtdemu_caps caps;
		struct vtd_domain *dom;
		struct vtd_attach_params ap = { .sid = 0x28, .pasid = VTD_NO_PASID };
		struct vtd_gather g = VTD_GATHER_INIT;
		struct vtdemu_stats s0, s1;
		struct drv_buf b;
		uint8_t buf[8];

		REQUIRE(vtdemu_preset(queued ? "qemu-cm-off" : "rwbf", &caps) == 0,
			"preset");
		caps.cap |= VTD_CAP_RWBF;
		TRY(drv_open(&env, &caps, NULL), "open");
		TRY(drv_buf_alloc(&b, 4096, 4096), "buffer");
		TRY(vtd_domain_create(env.u, NULL, &dom), "domain");
		CHECK(vtd_domain_map_flush(dom), "RWBF domain maps with a flush");
		TRY(vtd_attach(dom, env.u, &ap), "attach");
		TRY(vtd_map(dom, 0x40000, b.iova, 4096, VTD_PERM_READ), "map");
		s0 = emu_stats(env.emu);
		TRY(drv_inv_range(dom, env.u, 0x40000, 4096, VTD_INV_MAP), "map flush");
		s1 = emu_stats(env.emu);
		CHECK(s1.wbf > s0.wbf, "%s: map-side flush of an RWBF unit "
		      "flushed no write buffer", queued ? "queued" : "registers");
		CHECK_EQ(s1.desc[VTDEMU_DS_IOTLB_PAGE] - s0.desc[VTDEMU_DS_IOTLB_PAGE] +
			 s1.reg_inv[VTDEMU_DS_IOTLB_PAGE] - s0.reg_inv[VTDEMU_DS_IOTLB_PAGE], 0);
		CHECK_EQ(vtdemu_dma_read(env.emu, ap.sid, VTDEMU_NO_PASID, 0x40000,
					 buf, 8, NULL), 8);
		TRY(vtd_unmap(dom, 0x40000, 4096, &g), "unmap");
		s0 = emu_stats(env.emu);
		TRY(drv_inv_range(dom, env.u, 0x40000, 4096,
				  g.nr_freed ? VTD_INV_TABLES_FREED : 0), "unmap inv");
		vtd_gather_release(dom, &g);
		s1 = emu_stats(env.emu);
		CHECK(s1.wbf > s0.wbf, "%s: unmap invalidation of an RWBF unit "
		      "flushed no write buffer first", queued ? "queued" : "registers");
		CHECK_EQ(vtdemu_stale_count(env.emu), 0);
		TRY(vtd_detach(dom, env.u, ap.sid), "detach");
		TRY(vtd_domain_destroy(dom), "destroy");
		drv_buf_free(&b);
		drv_close(&env);
	}
}

/* Sequence numbers wrap past 2^32: completion is a wrap-safe comparison,
 * so a context whose counter crosses zero keeps completing, and a wait for
 * a number from before the wrap is done at once. The counter is set near
 * the top by hand (both the context's and its completion word, as if that
 * many batches had gone before). */
static void test_seq_wrap(void)
{
	struct drv_env env;
	struct vtd_qctx *c;
	uint32_t seq, first = 0;

	TRY(qi_open(&env, "qemu-cm-on", VTDEMU_INLINE, 0, NULL), "open");
	c = vtd_qctx_get(env.u, rte_lcore_id());
	REQUIRE(c != NULL, "context");
	TRY(vtd_qctx_sync(c), "idle");
	c->seq = UINT32_MAX - 20;
	__atomic_store_n(c->done, c->seq, __ATOMIC_RELEASE);
	for (int i = 0; i < 64; i++) {
		struct vtd_desc d = dsi(1);

		TRY(vtd_qctx_add(c, &d), "add");
		TRY(vtd_qctx_submit(c, &seq), "submit");
		if (i == 0)
			first = seq;
		CHECK_EQ(vtd_qctx_wait(c, seq), 0);
		CHECK(vtd_qctx_done(c, first), "seq %u from before the wrap "
		      "not done after %u", first, seq);
	}
	CHECK(seq < first, "the counter wrapped (%u -> %u)", first, seq);
	drv_close(&env);
}

/* An invalid descriptor in the ring's last slot, its batch's wait in slot
 * 0 of the next lap (and the other way round: the wait itself invalid in
 * the last slot): the submitter learns -EINVAL, the queue goes on. */
static void test_iqe_at_wrap(void)
{
	struct drv_env env;
	struct vtd_qctx *c;
	struct vtdemu_injection inj = { .kind = VTDEMU_INJECT_BAD_DESC };
	uint32_t lvl, seq;

	TRY(qi_open(&env, "qemu-cm-on", VTDEMU_INLINE, 0, NULL), "open");
	c = vtd_qctx_get(env.u, rte_lcore_id());
	REQUIRE(c != NULL, "context");
	lvl = drv_quiet();
	for (int waitbad = 0; waitbad < 2; waitbad++) {
		struct vtd_qi *qi = env.u->qi;
		uint32_t last = qi->nslots - 1;
		/* Bring the next reservation to the last slot (bad
		 * descriptor there, wait at 0) or to the slot before it
		 * (descriptor there, wait in the last slot). */
		uint32_t want = waitbad ? last - 1 : last;
		struct vtd_desc d = dsi(1);

		for (int guard = 0; guard < 1000; guard++) {
			uint32_t at = (uint32_t)atomic_load(&qi->prod_head) & qi->mask;

			if (at == want)
				break;
			TRY(vtd_qctx_add(c, &d), "add");
			if (((want - at) & qi->mask) % 2 == 1)
				TRY(vtd_qctx_add(c, &d), "add");
			TRY(vtd_qctx_sync(c), "advance");
		}
		CHECK_EQ((uint32_t)atomic_load(&qi->prod_head) & qi->mask, want);
		if (waitbad) {
			inj.nth = 1;              /* the wait */
			TRY(vtdemu_inject(env.emu, &inj), "inject");
			TRY(vtd_qctx_add(c, &d), "add");
		} else {
			d = bad();
			TRY(vtd_qctx_add(c, &d), "add");
		}
		TRY(vtd_qctx_submit(c, &seq), "submit");
		CHECK(vtd_qctx_wait(c, seq) == -EINVAL, "%s at the wrap: not "
		      "-EINVAL", waitbad ? "bad wait" : "bad descriptor");
		d = dsi(1);
		TRY(vtd_qctx_add(c, &d), "add");
		CHECK_EQ(vtd_qctx_sync(c), 0);
	}
	drv_loud(lvl);
	CHECK_EQ(emu_stats(env.emu).invalid_descs, 2);
	CHECK_EQ(vtdemu_reg_read(env.emu, VTD_REG_FSTS, 4) & VTD_FSTS_ERRORS, 0);
	drv_close(&env);
}

/* A batch larger than the context's capacity goes out in pieces (each
 * with its wait); the submitter waits for the last. A device-TLB
 * invalidation that timed out (ITE) in an earlier piece must still be
 * reported by that wait: -EIO, not 0 (the caller would take the device
 * TLB for clean and reuse the IOVAs). Same for an invalid descriptor
 * (IQE, -EINVAL). */
static void test_fault_in_auto_submitted_piece(void)
{
	struct drv_env env;
	struct vtd_qctx *c;
	struct vtd_unit_params p;
	struct vtdemu_injection ite = { .kind = VTDEMU_INJECT_DEVTLB_TIMEOUT,
					.sid = 0x42, .count = 1 };
	uint32_t lvl;
	int rc;

	vtd_unit_params_init(&p);
	p.enable_translation = true;
	p.timeout_ns = 2000 * MS;
	TRY(qi_open(&env, "server", VTDEMU_INLINE, 0, &p), "open");
	c = vtd_qctx_get(env.u, rte_lcore_id());
	REQUIRE(c != NULL, "context");
	lvl = drv_quiet();
	for (int kind = 0; kind < 2; kind++) {
		struct vtd_desc first = kind ? bad() :
			vtd_desc_devtlb(0x42, 0, 0, 0x7000, 0);
		struct vtd_desc d = dsi(1);

		if (kind == 0)
			TRY(vtdemu_inject(env.emu, &ite), "inject");
		TRY(vtd_qctx_add(c, &first), "add");
		/* More than one batch's worth: the first piece goes out by
		 * itself. */
		for (int i = 0; i < 300; i++)
			TRY(vtd_qctx_add(c, &d), "add");
		rc = vtd_qctx_sync(c);
		CHECK(rc == (kind ? -EINVAL : -EIO), "%s in an auto-submitted "
		      "piece: the last wait returned %d",
		      kind ? "IQE" : "ITE", rc);
		TRY(vtd_qctx_add(c, &d), "add");
		CHECK_EQ(vtd_qctx_sync(c), 0);
	}
	drv_loud(lvl);
	drv_close(&env);
}

/* Planted bugs: each must be caught by the check that guards it. */
static void test_planted_bugs_are_caught(void)
{
	struct drv_env env;
	struct vtd_unit_params p;
	struct vtd_domain *dom;
	struct vtd_domain_params dp;
	struct vtd_attach_params ap = { .sid = 0x31, .pasid = VTD_NO_PASID };
	struct vtd_gather g = VTD_GATHER_INIT;
	struct vtd_qctx *c;
	struct drv_buf b;
	uint8_t buf[8];
	uint32_t seq, lvl;

	vtd_unit_params_init(&p);
	p.enable_translation = true;
	p.timeout_ns = 50 * MS;
	TRY(qi_open(&env, "qemu-cm-off", VTDEMU_INLINE, 0, &p), "open");
	c = vtd_qctx_get(env.u, rte_lcore_id());
	/* 1. A wait for a sequence number never submitted times out. */
	TRY(vtd_qctx_submit(c, &seq), "submit");
	lvl = drv_quiet();
	CHECK_EQ(vtd_qctx_wait(c, seq + 3), -ETIMEDOUT);
	drv_loud(lvl);
	CHECK(!vtd_qctx_done(c, seq + 3), "never submitted: not done");

	/* 2. An unmap without its invalidation: the stale checker sees the
	 * cached translation used (the check test_two_lcores_no_stale and
	 * test_inv_range rely on). */
	TRY(drv_buf_alloc(&b, 4096, 4096), "buffer");
	vtd_domain_params_init(&dp);
	TRY(vtd_domain_create(env.u, &dp, &dom), "domain");
	TRY(vtd_attach(dom, env.u, &ap), "attach");
	TRY(vtd_map(dom, 0x400000, b.iova, 4096, VTD_PERM_READ), "map");
	CHECK_EQ(vtdemu_dma_read(env.emu, ap.sid, VTDEMU_NO_PASID, 0x400000,
				 buf, 8, NULL), 8);
	TRY(vtd_unmap(dom, 0x400000, 4096, &g), "unmap");
	/* (no vtd_inv_range here: the planted bug) */
	vtdemu_dma_read(env.emu, ap.sid, VTDEMU_NO_PASID, 0x400000, buf, 8,
			NULL);
	CHECK(vtdemu_stale_count(env.emu) > 0, "the missing invalidation is "
	      "seen as a stale use");
	/* Now the invalidation: no new stale use. */
	vtdemu_stale_reset(env.emu);
	TRY(vtd_inv_range(c, dom, g.start, g.end - g.start, 0), "inv");
	CHECK_EQ(vtd_qctx_sync(c), 0);
	vtd_gather_release(dom, &g);
	lvl = drv_quiet();
	CHECK_EQ(vtdemu_dma_read(env.emu, ap.sid, VTDEMU_NO_PASID, 0x400000,
				 buf, 8, NULL), -EFAULT);
	vtd_fault_drain(env.u, NULL, 0);
	drv_loud(lvl);
	CHECK_EQ(vtdemu_stale_count(env.emu), 0);
	vtd_detach(dom, env.u, ap.sid);
	vtd_domain_destroy(dom);
	drv_buf_free(&b);
	drv_close(&env);
}

/* Fault records: drained, decoded, cleared. */
static void test_fault_drain(void)
{
	struct drv_env env;
	struct vtd_fault f[4];
	uint8_t buf[8];
	uint32_t lvl;
	int n;

	TRY(qi_open(&env, "qemu-cm-on", VTDEMU_INLINE, 0, NULL), "open");
	CHECK_EQ(vtd_fault_drain(env.u, f, 4), 0);
	/* A device with no context: reason 2 (context entry not present)
	 * or 1 (root entry not present). */
	lvl = drv_quiet();
	CHECK_EQ(vtdemu_dma_write(env.emu, 0x0508, VTDEMU_NO_PASID, 0x123000,
				  buf, 8, NULL), -EFAULT);
	n = vtd_fault_drain(env.u, f, 4);
	drv_loud(lvl);
	REQUIRE(n == 1, "drained %d", n);
	CHECK(f[0].reason == VTD_FR_ROOT_NP || f[0].reason == VTD_FR_CTX_NP,
	      "reason 0x%x", f[0].reason);
	CHECK_EQ(f[0].sid, 0x0508);
	CHECK_EQ(f[0].addr, 0x123000);
	CHECK(f[0].write, "a write");
	CHECK_EQ(f[0].pasid, VTD_NO_PASID);
	CHECK(strcmp(f[0].reason_str, vtd_fault_reason_str(f[0].reason)) == 0,
	      "reason string");
	CHECK_EQ(vtdemu_reg_read(env.emu, VTD_REG_FSTS, 4) &
		 (VTD_FSTS_PPF | VTD_FSTS_PFO), 0);
	CHECK_EQ(vtd_fault_drain(env.u, f, 4), 0);
	CHECK(strstr(vtd_fault_reason_str(VTD_FR_READ), "read") != NULL,
	      "reason 6");
	drv_close(&env);
}

/* ---------------------------------------------------------------------------
 * Throughput on the inline emulator, one core (printed).
 */
static void test_throughput(void)
{
	struct drv_env env;
	struct vtd_domain *dom;
	struct vtd_domain_params dp;
	struct vtd_attach_params ap = { .sid = 0x40, .pasid = VTD_NO_PASID };
	struct vtd_qctx *c;
	uint64_t t0, dt, n = 0, descs = 0;
	uint32_t seq;
	int bad_rc = 0;

	TRY(qi_open(&env, "qemu-cm-off", VTDEMU_INLINE, 0, NULL), "open");
	vtd_domain_params_init(&dp);
	TRY(vtd_domain_create(env.u, &dp, &dom), "domain");
	TRY(vtd_attach(dom, env.u, &ap), "attach");
	c = vtd_qctx_get(env.u, rte_lcore_id());

	/* Strict: one page-selective invalidation and its wait a time. */
	t0 = now_ns();
	do {
		for (int i = 0; i < 1000; i++, n++) {
			int rc = vtd_inv_range(c, dom, (n & 1023) << 12, 4096, 0);

			if (rc == 0)
				rc = vtd_qctx_sync(c);
			if (rc && !bad_rc)
				bad_rc = rc;
		}
		dt = now_ns() - t0;
	} while (dt < 300 * MS);
	CHECK_EQ(bad_rc, 0);
	printf("# strict (PSI + wait per unmap): %.2f M/s\n",
	       (double)n * 1e3 / (double)dt);

	/* Batched: 64 page-selective descriptors per wait. */
	t0 = now_ns();
	do {
		for (int i = 0; i < 100; i++) {
			for (int j = 0; j < 63; j++, descs++) {
				struct vtd_desc d = psi(1, (uint64_t)j << 12, 0);

				vtd_qctx_add(c, &d);
			}
			if (vtd_qctx_submit(c, &seq) || vtd_qctx_wait(c, seq))
				bad_rc = -1;
		}
		dt = now_ns() - t0;
	} while (dt < 300 * MS);
	CHECK_EQ(bad_rc, 0);
	printf("# batched (63 PSI + 1 wait): %.2f M descriptors/s\n",
	       (double)descs * 1e3 / (double)dt);
	vtd_detach(dom, env.u, ap.sid);
	vtd_domain_destroy(dom);
	drv_close(&env);
}

/* QI_TEST=name runs one test only (debugging). */
static int want(const char *name)
{
	const char *only = getenv("QI_TEST");

	return only == NULL || strstr(name, only) != NULL;
}
#define QRUN(fn) do { if (want(#fn)) RUN(fn); } while (0)

int main(int argc, char **argv)
{
	(void)argc;
	if (uvtd_test_eal_init(argv[0], UVTD_EAL_VA) != 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	QRUN(test_submit_legacy_128);
	QRUN(test_submit_scalable_256);
	QRUN(test_wrap_128);
	QRUN(test_wrap_256);
	QRUN(test_batch_overflow);
	QRUN(test_two_lcores_threaded);
	QRUN(test_two_lcores_inline);
	QRUN(test_two_lcores_lockstep);
	QRUN(test_publish_handoff_bound);
	QRUN(test_null_args);
	QRUN(test_two_lcores_no_stale);
	QRUN(test_iqe_injected);
	QRUN(test_iqe_positions_concurrent);
	QRUN(test_ite);
	QRUN(test_ice);
	QRUN(test_stall_inline);
	QRUN(test_stall_threaded);
	QRUN(test_lost_wait);
	QRUN(test_register_no_qi);
	QRUN(test_register_asked);
	QRUN(test_inv_range);
	QRUN(test_inv_range_psi_at_any_fill);
	QRUN(test_rwbf_flushes);
	QRUN(test_seq_wrap);
	QRUN(test_iqe_at_wrap);
	QRUN(test_fault_in_auto_submitted_piece);
	QRUN(test_planted_bugs_are_caught);
	QRUN(test_fault_drain);
	QRUN(test_throughput);
	return TEST_SUMMARY();
}
