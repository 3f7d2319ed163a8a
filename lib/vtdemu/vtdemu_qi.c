/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu queued invalidation (VT-d spec §6.5.2), register-based
 * invalidation (§6.5.1), the hardware thread of threaded mode, and fault
 * injection.
 *
 * The engine runs under reg_lock: in inline mode inside the IQT write (as
 * QEMU does inside the VM exit), in threaded mode in the hardware thread,
 * which applies the modelled fetch latency before it takes the lock so
 * that register writers are not held behind it.
 *
 * Error model (§6.5.2.10 "Queued Invalidation Errors"):
 *   IQE  an invalid tail (beyond the queue, or bit 4 set with 256-bit
 *        descriptors), a descriptor that cannot be fetched, an invalid
 *        descriptor (type, reserved bit, width, a field value the unit
 *        cannot honour), or a wait whose status address does not resolve.
 *        FSTS.IQE and IQER.IQEI are set, IQH stays at the offending
 *        descriptor and nothing more is fetched until software clears IQE
 *        and then writes IQT again (QEMU restarts only on an IQT write; the
 *        spec tells software to do both).
 *   ITE  a device-TLB invalidation timed out (injected). The unit had
 *        already fetched up to the tail it was given; every wait
 *        descriptor after the timed-out invalidation in that run is aborted
 *        (no status write, no IWC) while the other descriptors still take
 *        effect; IQH ends at that tail, past the aborted waits, which is
 *        where Linux's ITE handler expects it (it walks back from IQH - 1
 *        marking waits aborted). FSTS.ITE and IQER.ITESID are set and
 *        fetching resumes when software clears ITE.
 *   ICE  a device-TLB invalidation completed with an error (injected):
 *        FSTS.ICE and IQER.ICESID are set; the queue goes on.
 *
 * Hot path: no allocation, no system call per descriptor; queue pages are
 * resolved once and remembered; statistics are summed locally and added
 * to the shared counters once per run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vtdemu_fe.h"

struct emu_thread {
	pthread_t tid;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic bool stop;
	_Atomic bool sleeping;
	_Atomic uint64_t gen;        /* bumped by anything that may add work */
	/* Inline mode: a one-shot timer that ends a timed stall. Started and
	 * stopped under timer_lock (never held with reg_lock). */
	pthread_mutex_t timer_lock;
	pthread_t timer_tid;
	bool timer_started;
	_Atomic bool timer_stop;
	uint64_t timer_deadline;
};

/* Per-run sums, added to the thread's statistics shard at the end of a
 * run (and before a status write). */
struct qi_acc {
	uint64_t desc[VTDEMU_DS_KINDS];
	uint64_t waits, status_writes, aborted, lost, coarsened, unaligned;
	uint64_t invalid, ite, ice, qemu72;
	uint64_t ns, shadow_ns, shadow_pages;
};

static void acc_flush(struct vtdemu *emu, const struct qi_acc *a)
{
	struct emu_stat_shard *sh = emu_shard(emu);

	for (unsigned int k = 0; k < VTDEMU_DS_KINDS; k++)
		if (a->desc[k])
			EMU_SHARD_ADD(sh, desc[k], a->desc[k]);
#define FLUSH(field, v) do { if (v) EMU_SHARD_ADD(sh, field, v); } while (0)
	FLUSH(waits, a->waits);
	FLUSH(wait_status_writes, a->status_writes);
	FLUSH(waits_aborted, a->aborted);
	FLUSH(waits_lost, a->lost);
	FLUSH(desc_coarsened, a->coarsened);
	FLUSH(psi_unaligned, a->unaligned);
	FLUSH(invalid_descs, a->invalid);
	FLUSH(ite, a->ite);
	FLUSH(ice, a->ice);
	FLUSH(qemu72_unsafe_waits, a->qemu72);
	FLUSH(modelled_ns, a->ns);
	FLUSH(modelled_shadow_ns, a->shadow_ns);
	FLUSH(shadow_pages, a->shadow_pages);
#undef FLUSH
}

static void acc_kind(struct vtdemu *emu, struct qi_acc *a,
		     enum vtdemu_desc_stat k)
{
	a->desc[k]++;
	a->ns += emu_cost_of(&emu->cfg.cost, k);
}

/* CM=1: a hypervisor shadowing this unit re-walks pages (cost model). */
static void acc_shadow(struct vtdemu *emu, struct qi_acc *a, uint64_t pages)
{
	if (!(emu->cap & CAP_CM) || pages == 0)
		return;
	uint64_t ns = pages * emu->cfg.cost.shadow_ns_per_page;
	a->shadow_pages += pages;
	a->shadow_ns += ns;
	a->ns += ns;
}

static void raise_iqe(struct vtdemu *emu, struct qi_acc *a, unsigned int code)
{
	a->invalid++;
	emu_fsts_raise(emu, FSTS_IQE, code, IQER_IQEI_MASK);
}

/* ------------------------------------------------------------------------
 * Threaded-mode wake-up.
 */
static void thread_wake(struct vtdemu *emu)
{
	struct emu_thread *t = emu->thread;

	if (t == NULL || !t->started)
		return;
	atomic_fetch_add(&t->gen, 1);
	if (atomic_load(&t->sleeping)) {
		pthread_mutex_lock(&t->lock);
		pthread_cond_signal(&t->cond);
		pthread_mutex_unlock(&t->lock);
	}
}

/* ------------------------------------------------------------------------
 * Descriptor validation and execution.
 */
enum { EXEC_OK = -1 };

/* Device-TLB invalidation range (§6.5.2.5, PCIe ATS "Invalidate Request"):
 * S=0 one 4 KiB page; S=1 the size is 8 KiB << (number of trailing ones of
 * ADDR[63:12]), the address aligned down to it. Everything is addr 0,
 * size UINT64_MAX. */
static void devtlb_range(uint64_t qw1, bool s, uint64_t *addr,
			 uint64_t *size)
{
	uint64_t a = qw1 & ~0xfffull;

	if (!s) {
		*addr = a;
		*size = 4096;
		return;
	}
	unsigned int ones = (unsigned int)__builtin_ctzll(~(a >> 12));
	if (13 + ones >= 64) {
		*addr = 0;
		*size = UINT64_MAX;
		return;
	}
	uint64_t sz = 1ull << (13 + ones);
	*addr = a & ~(sz - 1);
	*size = sz;
}

/* Injected device-TLB outcomes: returns true when this invalidation times
 * out (the caller turns the rest of the run into aborts). */
static bool devtlb_inject(struct vtdemu *emu, struct emu_qi *q,
			  struct qi_acc *a, uint16_t sid)
{
	if (q->devtlb_timeout && q->devtlb_timeout_sid == sid) {
		if (q->devtlb_timeout_left > 0 && --q->devtlb_timeout_left == 0)
			q->devtlb_timeout = false;
		a->ite++;
		emu_fsts_raise(emu, FSTS_ITE,
			       (uint64_t)sid << IQER_ITESID_SHIFT,
			       0xffffull << IQER_ITESID_SHIFT);
		return true;
	}
	if (q->ice_next) {
		q->ice_next = false;
		a->ice++;
		emu_fsts_raise(emu, FSTS_ICE,
			       (uint64_t)sid << IQER_ICESID_SHIFT,
			       0xffffull << IQER_ICESID_SHIFT);
	}
	return false;
}

/* Page-selective address: bits below 2^AM pages are ignored by the unit
 * (the AM field "masks" them, §6.5.2.3); a driver that relies on them has
 * a bug the stale checker will show, and the count tells it apart. */
static uint64_t psi_addr(struct qi_acc *a, uint64_t qw1, unsigned int am)
{
	uint64_t addr = qw1 & ~0xfffull;
	uint64_t span = am >= 52 ? 0 : (4096ull << am);
	uint64_t mask = span ? span - 1 : UINT64_MAX;

	if (addr & mask & ~0xfffull)
		a->unaligned++;
	return addr & ~mask;
}

/* Validates and executes one descriptor. Returns EXEC_OK or an IQEI code.
 * *aborting turns on when a device-TLB invalidation times out. */
static int qi_exec(struct vtdemu *emu, struct emu_qi *q, const uint64_t d[4],
		   struct qi_acc *a, bool *aborting)
{
	uint64_t cap = emu->cap, ecap = emu->ecap;
	uint64_t d0 = d[0], d1 = d[1];
	unsigned int type = desc_type(d0);
	unsigned int g = (unsigned int)(d0 >> 4) & 3;
	bool dit = (ecap & ECAP_DIT) != 0;

	/* In a 256-bit queue the upper 128 bits of every descriptor the unit
	 * knows are reserved (§6.5.2: 128-bit descriptors are zero-extended;
	 * the PASID ones define no field there). */
	if (q->dw && (d[2] | d[3]))
		return IQEI_RSVD;

	switch (type) {
	case DT_CC: {
		/* §6.5.2.1: G 5:4, DID 31:16, SID 47:32, FM 49:48. */
		if ((d0 & 0xfffc00000000ffc0ull) || d1 || g == 0)
			return IQEI_RSVD;
		uint16_t did = (uint16_t)(d0 >> 16), sid = (uint16_t)(d0 >> 32);
		unsigned int fm = (unsigned int)(d0 >> 48) & 3;
		emu_inv_context(emu, g, did, sid, fm);
		acc_kind(emu, a, g == 1 ? VTDEMU_DS_CC_GLOBAL :
			 g == 2 ? VTDEMU_DS_CC_DOMAIN : VTDEMU_DS_CC_DEVICE);
		return EXEC_OK;
	}
	case DT_IOTLB: {
		/* §6.5.2.3: G 5:4, DW 6, DR 7, DID 31:16 / AM 5:0, IH 6,
		 * ADDR 63:12. DR/DW ask to drain; with nothing in flight they
		 * are no-ops (and ignored without CAP.DRD/DWD). */
		if ((d0 & 0xffffffff0000ff00ull) || (d1 & 0xf80) || g == 0)
			return IQEI_RSVD;
		uint16_t did = (uint16_t)(d0 >> 16);
		uint64_t pages;
		if (g == 3 && !(cap & CAP_PSI)) {
			/* Without PSI the unit performs a domain-selective
			 * invalidation instead (§6.5.1.2 reports it as IAIG
			 * for the register interface). */
			a->coarsened++;
			g = 2;
		}
		if (g == 3) {
			unsigned int am = (unsigned int)(d1 & 0x3f);
			/* AM beyond MAMV: rejected, as QEMU does
			 * (vtd_process_iotlb_desc). */
			if (am > CAP_MAMV(cap))
				return IQEI_RSVD;
			uint64_t addr = psi_addr(a, d1, am);
			pages = emu_inv_iotlb(emu, 3, did, addr, am,
					      (d1 >> 6) & 1);
			acc_kind(emu, a, VTDEMU_DS_IOTLB_PAGE);
		} else {
			pages = emu_inv_iotlb(emu, g, did, 0, 0, false);
			acc_kind(emu, a, g == 1 ? VTDEMU_DS_IOTLB_GLOBAL :
				 VTDEMU_DS_IOTLB_DOMAIN);
		}
		acc_shadow(emu, a, pages);
		return EXEC_OK;
	}
	case DT_DEVTLB: {
		/* §6.5.2.5: only units with device-TLB support know it. */
		if (!(ecap & ECAP_DT))
			return IQEI_TYPE;
		/* PFSID (15:12, 63:52) is defined only with ECAP.DIT. */
		uint64_t r0 = 0x000f0000ffe001f0ull |
			(dit ? 0 : 0xfff000000000f000ull);
		if ((d0 & r0) || (d1 & 0xffe))
			return IQEI_RSVD;
		uint16_t sid = (uint16_t)(d0 >> 32);
		uint64_t addr, size;
		devtlb_range(d1, d1 & 1, &addr, &size);
		acc_kind(emu, a, VTDEMU_DS_DEVTLB);
		if (!*aborting && devtlb_inject(emu, q, a, sid)) {
			*aborting = true;
			return EXEC_OK;
		}
		emu_inv_devtlb(emu, sid, VTDEMU_NO_PASID, false, addr, size);
		return EXEC_OK;
	}
	case DT_IEC:
		/* §6.5.2.7: interrupt entry cache, only with interrupt
		 * remapping. The cache itself is not modelled. */
		if (!(ecap & ECAP_IR))
			return IQEI_TYPE;
		if ((d0 & 0xffff000007fff1e0ull) || d1)
			return IQEI_RSVD;
		acc_kind(emu, a, VTDEMU_DS_IEC);
		return EXEC_OK;
	case DT_WAIT: {
		/* §6.5.2.8: IF 4, SW 5, FN 6, PD 7 (only with page requests),
		 * STATUS DATA 63:32 / STATUS ADDR 63:2. A wait with neither
		 * SW nor IF is a plain fence and valid (QEMU before 2025
		 * rejected it; SW|IF together is valid too, QEMU asserted).
		 * FN orders later descriptors after this one: the engine is
		 * sequential, so every wait already fences. */
		uint64_t r0 = 0xfffff100ull | ((ecap & ECAP_PRS) ? 0 : WAIT_PD);
		if ((d0 & r0) || (d1 & 3))
			return IQEI_RSVD;
		bool lost = !*aborting && q->lost_wait_in == 0;
		uint32_t *p = NULL;
		if ((d0 & WAIT_SW) && !*aborting && !lost) {
			p = emu_mem(emu, d1 & ~3ull, 4);
			/* An unreachable status address is treated as an
			 * invalid descriptor, as QEMU does
			 * (vtd_process_wait_desc); IQEI has no code for it. */
			if (p == NULL)
				return IQEI_NONE;
		}
		acc_kind(emu, a, VTDEMU_DS_WAIT);
		a->waits++;
		/* Valid, but a driver meant to run under QEMU 7.2 must not
		 * emit them: counted so tests can insist on SW-only waits. */
		if (!(d0 & WAIT_SW) == !(d0 & WAIT_IF))
			a->qemu72++;
		if (*aborting) {
			a->aborted++;
			return EXEC_OK;
		}
		if (lost) {
			q->lost_wait_in = -1;
			a->lost++;
			return EXEC_OK;
		}
		if (q->lost_wait_in > 0)
			q->lost_wait_in--;
		if (p != NULL) {
			/* The statistics of everything done so far are
			 * published before the status data, so whoever sees
			 * its completion also sees it counted. Release: all
			 * effects of this run are visible with the data. */
			a->status_writes++;
			acc_flush(emu, a);
			memset(a, 0, sizeof(*a));
			__atomic_store_n(p, (uint32_t)(d0 >> 32),
					 __ATOMIC_RELEASE);
		}
		if (d0 & WAIT_IF)
			emu_ics_raise_iwc(emu);
		return EXEC_OK;
	}
	case DT_PIOTLB: {
		/* §6.5.2.4: scalable mode only, 256-bit only. G 5:4 (2 all of
		 * the PASID, 3 page-selective), DID 31:16, PASID 51:32 / AM,
		 * IH, ADDR. */
		if (!(ecap & ECAP_SMTS))
			return IQEI_TYPE;
		if (!q->dw)
			return IQEI_WIDTH;
		if ((d0 & 0xfff000000000f1c0ull) || (d1 & 0xf80) || g < 2)
			return IQEI_RSVD;
		uint16_t did = (uint16_t)(d0 >> 16);
		uint32_t pasid = (uint32_t)(d0 >> 32) & 0xfffff;
		unsigned int am = (unsigned int)(d1 & 0x3f);
		uint64_t pages;
		/* Linux does not clamp this AM to MAMV and real units accept
		 * it, so a wider or PSI-less request is performed as the
		 * PASID-selective invalidation that covers it. */
		if (g == 3 && (!(cap & CAP_PSI) || am > CAP_MAMV(cap))) {
			a->coarsened++;
			g = 2;
		}
		if (g == 3) {
			uint64_t addr = psi_addr(a, d1, am);
			pages = emu_inv_pasid_iotlb(emu, 3, did, pasid, addr, am,
						    (d1 >> 6) & 1);
			acc_kind(emu, a, VTDEMU_DS_PIOTLB_PAGE);
		} else {
			pages = emu_inv_pasid_iotlb(emu, 2, did, pasid, 0, 0,
						    false);
			acc_kind(emu, a, VTDEMU_DS_PIOTLB_PASID);
		}
		acc_shadow(emu, a, pages);
		return EXEC_OK;
	}
	case DT_PC: {
		/* §6.5.2.2: G 0 domain, 1 PASID, 3 global (2 reserved). */
		if (!(ecap & ECAP_SMTS))
			return IQEI_TYPE;
		if (!q->dw)
			return IQEI_WIDTH;
		if ((d0 & 0xfff000000000f1c0ull) || d1 || g == 2)
			return IQEI_RSVD;
		uint16_t did = (uint16_t)(d0 >> 16);
		uint32_t pasid = (uint32_t)(d0 >> 32) & 0xfffff;
		emu_inv_pasid_cache(emu, g, did, pasid);
		acc_kind(emu, a, g == 0 ? VTDEMU_DS_PC_DOMAIN :
			 g == 1 ? VTDEMU_DS_PC_PASID : VTDEMU_DS_PC_GLOBAL);
		return EXEC_OK;
	}
	case DT_PDEVTLB: {
		/* §6.5.2.6: MIP 8:4, PFSID (DIT), SID 31:16, PASID 51:32 /
		 * G 0, S 11, ADDR 63:12. */
		if (!(ecap & ECAP_SMTS) || !(ecap & ECAP_DT))
			return IQEI_TYPE;
		if (!q->dw)
			return IQEI_WIDTH;
		uint64_t r0 = dit ? 0 : 0xfff000000000f000ull;
		if ((d0 & r0) || (d1 & 0x7fe))
			return IQEI_RSVD;
		uint16_t sid = (uint16_t)(d0 >> 16);
		uint32_t pasid = (uint32_t)(d0 >> 32) & 0xfffff;
		bool global = d1 & 1;
		uint64_t addr, size;
		devtlb_range(d1, (d1 >> 11) & 1, &addr, &size);
		acc_kind(emu, a, VTDEMU_DS_PDEVTLB);
		if (!*aborting && devtlb_inject(emu, q, a, sid)) {
			*aborting = true;
			return EXEC_OK;
		}
		emu_inv_devtlb(emu, sid, pasid, global, addr, size);
		return EXEC_OK;
	}
	default:
		/* 0, page-request responses (no PRS modelled) and beyond. */
		return IQEI_TYPE;
	}
}

static bool qi_fetch(struct vtdemu *emu, struct emu_qi *q, uint32_t slot,
		     uint64_t d[4])
{
	unsigned int dsz = q->dw ? 32 : 16;
	uint64_t off = (uint64_t)slot * dsz;
	uint32_t pg = (uint32_t)(off >> 12);
	void *p = q->page[pg];

	if (p == NULL) {
		p = emu_mem(emu, q->base + ((uint64_t)pg << 12), 4096);
		if (p == NULL)
			return false;
		q->page[pg] = p;
	}
	memcpy(d, (const uint8_t *)p + (off & 0xfff), dsz);
	if (!q->dw)
		d[2] = d[3] = 0;
	return true;
}

/* Fetches and executes from IQH up to the tail as it is now. reg_lock held. */
static void qi_process_locked(struct vtdemu *emu)
{
	struct emu_qi *q = emu->qi;

	if (!q->enabled || emu->qi_head == emu->qi_tail)
		return;
	if (reg_rd32(emu, R_FSTS) & (FSTS_IQE | FSTS_ITE))
		return;
	if (q->stalled) {
		if (q->stall_until_ns == 0 || emu_now_ns() < q->stall_until_ns)
			return;
		q->stalled = false;
	}

	struct qi_acc a;
	memset(&a, 0, sizeof(a));
	EMU_STAT_ADD(emu, qi_batches, 1);
	unsigned int shift = q->dw ? 5 : 4;
	uint32_t tail = emu->qi_tail, mask = q->size - 1;
	bool aborting = false;

	while (emu->qi_head != tail) {
		uint64_t d[4];
		int r;

		if (!qi_fetch(emu, q, emu->qi_head, d)) {
			r = IQEI_FETCH;
		} else if (q->bad_desc_in == 0) {
			q->bad_desc_in = -1;
			r = IQEI_RSVD;
		} else {
			if (q->bad_desc_in > 0)
				q->bad_desc_in--;
			r = qi_exec(emu, q, d, &a, &aborting);
		}
		if (r != EXEC_OK) {
			raise_iqe(emu, &a, (unsigned int)r);
			break;
		}
		emu->qi_head = (emu->qi_head + 1) & mask;
		/* Software may read IQH to reclaim slots: it moves past a
		 * descriptor only once that descriptor is done. */
		reg_wr64(emu, R_IQH, (uint64_t)emu->qi_head << shift);
	}
	atomic_store_explicit(&emu->qi_a_head, emu->qi_head, memory_order_release);
	acc_flush(emu, &a);
}

/* ------------------------------------------------------------------------
 * Register-side entry points (reg_lock held).
 */
void emu_qi_iqt_written(struct vtdemu *emu)
{
	struct emu_qi *q = emu->qi;
	uint64_t v = reg_rd64(emu, R_IQT);

	EMU_STAT_ADD(emu, iqt_writes, 1);
	EMU_STAT_ADD(emu, modelled_ns, emu->cfg.cost.iqt_write_ns);
	if (!q->enabled)
		return; /* latched in IQT; looked at when QI is enabled */

	/* §11.4.9.4: with 256-bit descriptors QT bit 4 is reserved; a tail
	 * beyond the queue is invalid. Both raise IQE (IQEI 1) and leave
	 * the engine's tail unchanged. */
	uint32_t tail = (uint32_t)(v >> (q->dw ? 5 : 4));
	if ((q->dw && (v & 0x10)) || tail >= q->size) {
		struct qi_acc a;
		memset(&a, 0, sizeof(a));
		raise_iqe(emu, &a, IQEI_TAIL);
		acc_flush(emu, &a);
		return;
	}
	emu->qi_tail = tail;
	atomic_store_explicit(&emu->qi_a_tail, tail, memory_order_release);
	if (emu->cfg.mode == VTDEMU_THREADED)
		thread_wake(emu);
	else
		qi_process_locked(emu);
}

void emu_qi_kick(struct vtdemu *emu)
{
	if (emu->cfg.mode == VTDEMU_THREADED)
		thread_wake(emu);
	else
		qi_process_locked(emu);
}

/* GCMD.QIE (§10.4.4, §6.5.2). Returns the resulting GSTS.QIES. */
bool emu_qi_set_enable(struct vtdemu *emu, bool en)
{
	struct emu_qi *q = emu->qi;

	if (en) {
		uint64_t iqa = reg_rd64(emu, R_IQA);
		q->base = iqa & IQA_ADDR;
		q->dw = (emu->ecap & ECAP_SMTS) && (iqa & IQA_DW);
		/* 2^QS pages: 2^(QS+8) 128-bit or 2^(QS+7) 256-bit slots. */
		q->size = 1u << (IQA_QS(iqa) + 8 - (q->dw ? 1 : 0));
		memset(q->page, 0, sizeof(q->page));
		emu->qi_head = 0;
		reg_wr64(emu, R_IQH, 0);
		atomic_store(&emu->qi_a_head, 0);
		q->enabled = true;
		/* Software should write IQT = 0 before enabling; a tail
		 * already there is processed at once (QEMU allows this for
		 * Windows guests). An invalid one is ignored. */
		uint64_t t = reg_rd64(emu, R_IQT);
		uint32_t tail = (uint32_t)(t >> (q->dw ? 5 : 4));
		emu->qi_tail = ((q->dw && (t & 0x10)) || tail >= q->size) ? 0 : tail;
		atomic_store(&emu->qi_a_tail, emu->qi_tail);
		if (emu->qi_tail != emu->qi_head)
			emu_qi_kick(emu);
		return true;
	}
	/* Disabling takes effect only with the queue idle (IQH == IQT,
	 * §6.5.2: software must wait for its last wait descriptor first);
	 * otherwise QIES stays set, as in QEMU. */
	if (emu->qi_head != emu->qi_tail)
		return true;
	q->enabled = false;
	emu->qi_head = 0;
	reg_wr64(emu, R_IQH, 0); /* §11.4.9.3: IQH resets when disabled */
	atomic_store(&emu->qi_a_head, 0);
	return false;
}

/* Register-based invalidation while QI is enabled is not allowed (§6.5.2:
 * "software must not use the register-based interface while QI is
 * enabled"). The unit ignores the command and, as QEMU does, leaves ICC or
 * IVT set: the command never completes, so a driver polling for it times
 * out instead of silently believing it was done. */
static bool reg_inv_refused(struct vtdemu *emu)
{
	if (!emu->qi->enabled)
		return false;
	EMU_STAT_ADD(emu, reg_inv_refused, 1);
	return true;
}

/* CCMD (§6.5.1.1, §11.4.7.1): CIRG 1 global, 2 domain (DID), 3 device (DID,
 * SID, FM); CAIG reports the granularity performed (0: none, CIRG 0 is
 * invalid). */
void emu_ccmd_written(struct vtdemu *emu)
{
	struct emu_qi *q = emu->qi;
	uint64_t v = q->ccmd_wo;

	if (reg_inv_refused(emu))
		return;
	unsigned int g = CCMD_CIRG(v);
	if (g != 0) {
		emu_inv_context(emu, g, CCMD_DID(v), CCMD_SID(v), CCMD_FM(v));
		enum vtdemu_desc_stat k = g == 1 ? VTDEMU_DS_CC_GLOBAL :
			g == 2 ? VTDEMU_DS_CC_DOMAIN : VTDEMU_DS_CC_DEVICE;
		EMU_STAT_ADD(emu, reg_inv[k], 1);
		EMU_STAT_ADD(emu, modelled_ns, emu->cfg.cost.iqt_write_ns +
			     emu_cost_of(&emu->cfg.cost, k));
	}
	q->ccmd_wo &= ~CCMD_ICC;
	uint64_t shown = reg_rd64(emu, R_CCMD) & ~(CCMD_ICC | CCMD_CAIG_MASK);
	reg_wr64(emu, R_CCMD, shown | ((uint64_t)g << CCMD_CAIG_SHIFT));
}

/* IOTLB register (§6.5.1.2, §11.4.8.1): IIRG 1 global, 2 domain, 3 page
 * (IVA.ADDR/AM/IH). IAIG reports what was performed: domain for a page
 * request on a unit without PSI, 0 (nothing) for IIRG 0 or AM > MAMV (as
 * QEMU's vtd_iotlb_flush). */
void emu_iotlb_reg_written(struct vtdemu *emu)
{
	uint32_t off = emu_iro_off(emu) + 8;
	uint64_t v = reg_rd64(emu, off);
	uint64_t iva = emu->qi->iva;
	unsigned int g = IOTLB_IIRG(v), done = 0;
	uint16_t did = IOTLB_DID(v);
	uint64_t pages = 0;
	struct qi_acc a;

	if (reg_inv_refused(emu))
		return;
	memset(&a, 0, sizeof(a));
	if (g == 3 && !(emu->cap & CAP_PSI)) {
		a.coarsened++;
		g = 2;
	}
	if (g == 1 || g == 2) {
		pages = emu_inv_iotlb(emu, g, did, 0, 0, false);
		done = g;
	} else if (g == 3 && IVA_AM(iva) <= CAP_MAMV(emu->cap)) {
		unsigned int am = IVA_AM(iva);
		uint64_t addr = psi_addr(&a, iva, am);
		pages = emu_inv_iotlb(emu, 3, did, addr, am, (iva & IVA_IH) != 0);
		done = 3;
	}
	if (done) {
		enum vtdemu_desc_stat k = done == 1 ? VTDEMU_DS_IOTLB_GLOBAL :
			done == 2 ? VTDEMU_DS_IOTLB_DOMAIN : VTDEMU_DS_IOTLB_PAGE;
		EMU_STAT_ADD(emu, reg_inv[k], 1);
		a.ns += emu->cfg.cost.iqt_write_ns + emu_cost_of(&emu->cfg.cost, k);
		acc_shadow(emu, &a, pages);
	}
	acc_flush(emu, &a);
	v &= ~(IOTLB_IVT | IOTLB_IAIG_MASK);
	reg_wr64(emu, off, v | ((uint64_t)done << IOTLB_IAIG_SHIFT));
}

/* ------------------------------------------------------------------------
 * The hardware thread (threaded mode) and the inline stall timer.
 */
static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* The modelled fetch latency, without holding any lock. Short delays are
 * busy-waited on the vDSO clock (a nanosleep of 1 us sleeps ~50 us). */
static void delay_ns(uint64_t ns)
{
	if (ns == 0)
		return;
	if (ns >= 50000) {
		struct timespec ts = { (time_t)(ns / 1000000000ull),
				       (long)(ns % 1000000000ull) };
		nanosleep(&ts, NULL);
		return;
	}
	uint64_t end = emu_now_ns() + ns;
	while (emu_now_ns() < end)
		cpu_relax();
}

static void abs_deadline(struct timespec *ts, uint64_t ns_from_now)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	uint64_t n = (uint64_t)ts->tv_nsec + ns_from_now % 1000000000ull;
	ts->tv_sec += (time_t)(ns_from_now / 1000000000ull + n / 1000000000ull);
	ts->tv_nsec = (long)(n % 1000000000ull);
}

static void *hw_thread_main(void *arg)
{
	struct vtdemu *emu = arg;
	struct emu_thread *t = emu->thread;
	uint64_t seen = 0;

	while (!atomic_load(&t->stop)) {
		uint64_t gen = atomic_load(&t->gen);
		if (gen == seen) {
			/* Idle: spin a little (submitters often come back
			 * within microseconds), then sleep until woken. The
			 * timeout is the look at a timed stall (its end is
			 * seen within ~1 ms; an idle unit wakes 1000 times a
			 * second, which costs nothing measurable). */
			for (int i = 0; i < 200 && atomic_load(&t->gen) == seen; i++)
				cpu_relax();
			if (atomic_load(&t->gen) != seen)
				continue;
			pthread_mutex_lock(&t->lock);
			atomic_store(&t->sleeping, true);
			if (atomic_load(&t->gen) == seen && !atomic_load(&t->stop)) {
				struct timespec ts;
				abs_deadline(&ts, 1000000); /* 1 ms */
				pthread_cond_timedwait(&t->cond, &t->lock, &ts);
			}
			atomic_store(&t->sleeping, false);
			pthread_mutex_unlock(&t->lock);
			/* A timed stall may have ended: look again. */
			pthread_mutex_lock(&emu->reg_lock);
			if (emu->qi->stalled && emu->qi->stall_until_ns)
				qi_process_locked(emu);
			pthread_mutex_unlock(&emu->reg_lock);
			continue;
		}
		seen = gen;
		delay_ns(emu->cfg.cost.threaded_latency_ns);
		pthread_mutex_lock(&emu->reg_lock);
		qi_process_locked(emu);
		pthread_mutex_unlock(&emu->reg_lock);
	}
	return NULL;
}

static void *stall_timer_main(void *arg)
{
	struct vtdemu *emu = arg;
	struct emu_thread *t = emu->thread;

	pthread_mutex_lock(&t->lock);
	while (!atomic_load(&t->timer_stop) && emu_now_ns() < t->timer_deadline) {
		struct timespec ts;
		abs_deadline(&ts, t->timer_deadline - emu_now_ns());
		pthread_cond_timedwait(&t->cond, &t->lock, &ts);
	}
	pthread_mutex_unlock(&t->lock);
	if (atomic_load(&t->timer_stop))
		return NULL;
	pthread_mutex_lock(&emu->reg_lock);
	qi_process_locked(emu); /* ends the stall if it is due */
	pthread_mutex_unlock(&emu->reg_lock);
	return NULL;
}

/* Called with timer_lock held and without reg_lock (the timer takes it). */
static void stall_timer_stop(struct vtdemu *emu)
{
	struct emu_thread *t = emu->thread;

	if (!t->timer_started)
		return;
	pthread_mutex_lock(&t->lock);
	atomic_store(&t->timer_stop, true);
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->timer_tid, NULL);
	t->timer_started = false;
}

int emu_qi_init(struct vtdemu *emu, char *err, size_t errlen)
{
	struct emu_qi *q = calloc(1, sizeof(*q));
	struct emu_thread *t = calloc(1, sizeof(*t));

	if (q == NULL || t == NULL) {
		free(q);
		free(t);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->bad_desc_in = -1;
	q->lost_wait_in = -1;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->timer_lock, NULL);
	emu->qi = q;
	emu->thread = t;
	return 0;
}

void emu_qi_fini(struct vtdemu *emu)
{
	if (emu->thread != NULL) {
		pthread_cond_destroy(&emu->thread->cond);
		pthread_mutex_destroy(&emu->thread->lock);
		pthread_mutex_destroy(&emu->thread->timer_lock);
	}
	free(emu->thread);
	free(emu->qi);
	emu->thread = NULL;
	emu->qi = NULL;
}

int emu_thread_start(struct vtdemu *emu, char *err, size_t errlen)
{
	struct emu_thread *t = emu->thread;

	if (emu->cfg.mode != VTDEMU_THREADED)
		return 0;
	int rc = pthread_create(&t->tid, NULL, hw_thread_main, emu);
	if (rc != 0) {
		snprintf(err, errlen, "hardware thread: %s", strerror(rc));
		return -rc;
	}
	t->started = true;
	return 0;
}

void emu_thread_stop(struct vtdemu *emu)
{
	struct emu_thread *t = emu->thread;

	if (t == NULL)
		return;
	pthread_mutex_lock(&t->timer_lock);
	stall_timer_stop(emu);
	pthread_mutex_unlock(&t->timer_lock);
	if (!t->started)
		return;
	pthread_mutex_lock(&t->lock);
	atomic_store(&t->stop, true);
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->tid, NULL);
	t->started = false;
}

int emu_qi_quiesce(struct vtdemu *emu, uint64_t timeout_ns)
{
	if (emu->cfg.mode != VTDEMU_THREADED)
		return 0;
	uint64_t end = emu_now_ns() + timeout_ns;
	for (;;) {
		pthread_mutex_lock(&emu->reg_lock);
		struct emu_qi *q = emu->qi;
		bool done = !q->enabled || emu->qi_head == emu->qi_tail ||
			(reg_rd32(emu, R_FSTS) & (FSTS_IQE | FSTS_ITE));
		pthread_mutex_unlock(&emu->reg_lock);
		if (done)
			return 0;
		if (emu_now_ns() >= end)
			return -ETIMEDOUT;
		struct timespec ts = { 0, 20000 };
		nanosleep(&ts, NULL);
	}
}

/* ------------------------------------------------------------------------
 * Fault injection (vtdemu.h). Each kind is independent; injecting a kind
 * again replaces its previous setting.
 */
int vtdemu_inject(struct vtdemu *emu, const struct vtdemu_injection *inj)
{
	if (emu == NULL || inj == NULL)
		return -EINVAL;
	struct emu_thread *t = emu->thread;
	bool timer = false;

	switch (inj->kind) {
	case VTDEMU_INJECT_BAD_DESC:
	case VTDEMU_INJECT_DEVTLB_TIMEOUT:
	case VTDEMU_INJECT_ICE:
	case VTDEMU_INJECT_LOST_WAIT:
		break;
	case VTDEMU_INJECT_STALL:
		pthread_mutex_lock(&t->timer_lock);
		stall_timer_stop(emu);
		timer = emu->cfg.mode == VTDEMU_INLINE && inj->duration_ns;
		break;
	default:
		return -EINVAL;
	}

	pthread_mutex_lock(&emu->reg_lock);
	struct emu_qi *q = emu->qi;
	switch (inj->kind) {
	case VTDEMU_INJECT_BAD_DESC:
		q->bad_desc_in = inj->nth;
		break;
	case VTDEMU_INJECT_DEVTLB_TIMEOUT:
		q->devtlb_timeout = true;
		q->devtlb_timeout_sid = inj->sid;
		q->devtlb_timeout_left = inj->count;
		break;
	case VTDEMU_INJECT_ICE:
		q->ice_next = true;
		break;
	case VTDEMU_INJECT_STALL:
		q->stalled = true;
		q->stall_until_ns = inj->duration_ns ?
			emu_now_ns() + inj->duration_ns : 0;
		break;
	case VTDEMU_INJECT_LOST_WAIT:
		q->lost_wait_in = inj->nth;
		break;
	}
	uint64_t deadline = q->stall_until_ns;
	pthread_mutex_unlock(&emu->reg_lock);

	if (timer) {
		atomic_store(&t->timer_stop, false);
		pthread_mutex_lock(&t->lock);
		t->timer_deadline = deadline;
		pthread_mutex_unlock(&t->lock);
		if (pthread_create(&t->timer_tid, NULL, stall_timer_main, emu) == 0)
			t->timer_started = true;
	}
	if (inj->kind == VTDEMU_INJECT_STALL)
		pthread_mutex_unlock(&t->timer_lock);
	return 0;
}

void vtdemu_inject_clear(struct vtdemu *emu)
{
	if (emu == NULL)
		return;
	pthread_mutex_lock(&emu->thread->timer_lock);
	stall_timer_stop(emu);
	pthread_mutex_unlock(&emu->thread->timer_lock);
	pthread_mutex_lock(&emu->reg_lock);
	struct emu_qi *q = emu->qi;
	q->bad_desc_in = -1;
	q->lost_wait_in = -1;
	q->devtlb_timeout = false;
	q->ice_next = false;
	bool was_stalled = q->stalled;
	q->stalled = false;
	q->stall_until_ns = 0;
	if (was_stalled)
		emu_qi_kick(emu);
	pthread_mutex_unlock(&emu->reg_lock);
}
