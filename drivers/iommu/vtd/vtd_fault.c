/* SPDX-License-Identifier: BSD-3-Clause
 * Faults: the invalidation queue's errors (IQE, ITE, ICE: VT-d spec
 * §6.5.2.10) and the primary fault records of translation faults (§7.2.1,
 * §11.4.14), drained and decoded (reason strings from Appendix A).
 *
 * Recovery is elected: the first waiter past its soft bound that sees an
 * error in FSTS and wins qi->recovering does it, bounded (it waits only for
 * producers that already reserved slots to publish them, which waits on
 * nothing else); everyone else keeps polling its own completion word and
 * finds its verdict in its context's marks:
 *
 *   IQE  The unit stopped at the invalid descriptor: IQH points at it and
 *        nothing is fetched until FSTS.IQE is cleared (§6.5.2.10); QEMU
 *        fetches again only on the next IQT write. The recoverer marks the
 *        batch that owns the slot at IQH -EINVAL (whatever its position in
 *        the batch: first, middle, last or the wait itself), overwrites the
 *        slot with a harmless valid descriptor (a status-write wait to a
 *        scratch word), clears IQE and writes IQT again. Every other batch
 *        proceeds and completes; so do the rest of the bad batch, whose
 *        submitter still learns -EINVAL from the mark.
 *   ITE  A device-TLB invalidation timed out: the unit aborts every wait
 *        descriptor pending in it (fetched, not completed) and fetches
 *        nothing more until ITE is cleared, then resumes at IQH (§6.5.2.10;
 *        IQER.ITESID names the device, valid while ITE is set, §11.4.9.9).
 *        A batch with any slot below IQH whose wait has not written its
 *        status is then uncertain: its wait was aborted, or its device-TLB
 *        invalidation was the one that timed out. The recoverer marks each
 *        such batch -EIO (its submitter resubmits: invalidations are
 *        idempotent), clears ITE and writes IQT again. Batches wholly at or
 *        above IQH run normally afterwards. Nobody spins on an aborted wait.
 *   ICE  An invalid device-TLB invalidation completion; the unit goes on
 *        (§6.5.2.10). Cleared and logged.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include <rte_pause.h>

#include "vtd_qi_priv.h"

/* IQER.IQEI (§11.4.9.9): 1 = invalid tail pointer (beyond the queue, or
 * bit 4 set with 256-bit descriptors). */
#define VTD_IQEI_TAIL 1

static void mark_iqe(struct vtd_qctx *c, uint32_t seq)
{
	uint32_t i = atomic_fetch_add_explicit(&c->mark_next, 1,
					       memory_order_relaxed);

	atomic_store_explicit(&c->iqe[i % VTD_QCTX_MARKS],
			      (1ULL << 32) | seq, memory_order_relaxed);
	/* Release: the mark is seen by whoever sees the count. */
	atomic_fetch_add_explicit(&c->nmarks, 1, memory_order_release);
}

static void mark_aborted(struct vtd_qctx *c, uint32_t seq)
{
	uint64_t old = atomic_load_explicit(&c->aborted, memory_order_relaxed);
	uint64_t nw;

	do {
		uint32_t lo = (uint32_t)old, hi = (uint32_t)(old >> 32);

		if (lo == hi + 1) {
			lo = hi = seq;
		} else {
			if ((int32_t)(seq - lo) < 0)
				lo = seq;
			if ((int32_t)(seq - hi) > 0)
				hi = seq;
		}
		nw = (uint64_t)lo | ((uint64_t)hi << 32);
	} while (!atomic_compare_exchange_weak_explicit(&c->aborted, &old, nw,
			memory_order_relaxed, memory_order_relaxed));
	atomic_fetch_add_explicit(&c->nmarks, 1, memory_order_release);
}

static struct vtd_qctx *rec_ctx(struct vtd_qi *qi, uint64_t rec, uint32_t pos)
{
	unsigned int idx = VTD_QI_REC_CTX(rec);

	if (VTD_QI_REC_LAP(rec) != vtd_qi_lap(qi, pos) || idx >= VTD_QCTX_COUNT)
		return NULL;          /* a record of another lap, or ours */
	return atomic_load_explicit(&qi->ctx[idx], memory_order_acquire);
}

/* ITE: marks every batch that has a slot in [head - (slots - 1), head) and
 * whose wait has not completed. Producers are stopped. Returns how many
 * slots belonged to such batches. */
static unsigned int recover_ite(struct vtd_qi *qi, uint32_t head)
{
	unsigned int hit = 0;

	for (uint32_t k = 1; k < qi->nslots; k++) {
		uint32_t pos = head - k;
		uint64_t rec = atomic_load_explicit(&qi->meta[pos & qi->mask].owner,
						    memory_order_relaxed);
		struct vtd_qctx *c = rec_ctx(qi, rec, pos);

		if (c == NULL || vtd_qi_seq_done(c, VTD_QI_REC_SEQ(rec)))
			continue;
		mark_aborted(c, VTD_QI_REC_SEQ(rec));
		hit++;
	}
	return hit;
}

/* IQE: the slot at head holds the invalid descriptor. */
static void recover_iqe(struct vtd_qi *qi, uint32_t head, uint64_t iqer)
{
	struct vtd_unit *u = qi->unit;
	const uint64_t *slot = (const uint64_t *)(const void *)
		(qi->ring + ((size_t)(head & qi->mask) << qi->shift));
	uint64_t rec = atomic_load_explicit(&qi->meta[head & qi->mask].owner,
					    memory_order_relaxed);
	struct vtd_qctx *c = rec_ctx(qi, rec, head);
	struct vtd_desc w;

	if (VTD_IQER_IQEI(iqer) == VTD_IQEI_TAIL) {
		/* Our IQT write was wrong, not a descriptor: rewriting IQT
		 * (below) is the repair. It cannot happen with the encoders
		 * above; say so loudly. */
		VTD_LOG(ERR, u, "invalidation queue error: invalid tail "
			"(IQER 0x%" PRIx64 ", IQT 0x%" PRIx64 ")", iqer,
			vtd_read64(u, VTD_REG_IQT));
		return;
	}
	VTD_LOG(ERR, u, "invalid descriptor at slot %u (IQEI %u): 0x%016"
		PRIx64 " 0x%016" PRIx64 ", context %u seq %u", head & qi->mask,
		(unsigned int)VTD_IQER_IQEI(iqer), slot[0], slot[1],
		VTD_QI_REC_CTX(rec), VTD_QI_REC_SEQ(rec));
	if (c != NULL)
		mark_iqe(c, VTD_QI_REC_SEQ(rec));
	/* A valid, harmless descriptor in its place (status write to the
	 * scratch word). Visible to the unit before the IQT write below. */
	w = vtd_desc_wait(VTD_WAIT_SW, 0, qi->scratch_iova);
	vtd_qi_slot_write(qi, head, &w);
}

int vtd_qi_check_faults(struct vtd_qi *qi)
{
	struct vtd_unit *u = qi->unit;
	uint32_t fsts, clear = 0, expect = 0;

	if (!qi->queued)
		return 0;
	fsts = vtd_qi_rd32(u, VTD_REG_FSTS);
	if (!(fsts & VTD_FSTS_ERRORS))
		return 0;
	if (!atomic_compare_exchange_strong_explicit(&qi->recovering, &expect,
			1, memory_order_acquire, memory_order_relaxed))
		return -EBUSY;

	fsts = vtd_qi_rd32(u, VTD_REG_FSTS);   /* what is left to do */
	if (fsts & VTD_FSTS_ICE) {
		uint64_t iqer = vtd_qi_rd64(u, VTD_REG_IQER);

		VTD_LOG(WARNING, u, "invalidation completion error (ICE) from "
			"%02x:%02x.%x: cleared",
			(unsigned int)(VTD_IQER_ICESID(iqer) >> 8),
			(unsigned int)((VTD_IQER_ICESID(iqer) >> 3) & 0x1f),
			(unsigned int)(VTD_IQER_ICESID(iqer) & 7));
		vtd_write32(u, VTD_REG_FSTS, VTD_FSTS_ICE);
		atomic_fetch_add(&qi->ice, 1);
	}
	if (fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE)) {
		uint32_t tail = vtd_qi_producers_stop(qi);
		uint32_t head = vtd_qi_head_refresh(qi);
		uint64_t iqer = vtd_qi_rd64(u, VTD_REG_IQER);

		if (fsts & VTD_FSTS_ITE) {
			unsigned int hit = recover_ite(qi, head);
			uint16_t sid = (uint16_t)VTD_IQER_ITESID(iqer);

			VTD_LOG(ERR, u, "device-TLB invalidation time-out (ITE) "
				"for %02x:%02x.%x: %u slots of unfinished "
				"batches aborted, their submitters get -EIO",
				sid >> 8, (sid >> 3) & 0x1f, sid & 7, hit);
			clear |= VTD_FSTS_ITE;
			atomic_fetch_add(&qi->ite, 1);
		}
		if (fsts & VTD_FSTS_IQE) {
			recover_iqe(qi, head, iqer);
			clear |= VTD_FSTS_IQE;
			atomic_fetch_add(&qi->iqe, 1);
		}
		vtd_write32(u, VTD_REG_FSTS, clear);
		/* Fetching resumes at IQH; QEMU needs an IQT write for it.
		 * No producer is in the chain: IQT stays monotonic. */
		vtd_qi_write_tail(qi, tail);
		vtd_qi_producers_resume(qi);
	}
	atomic_store_explicit(&qi->recovering, 0, memory_order_release);
	return 1;
}

/* ---------------------------------------------------------------------------
 * Fault records.
 */
const char *vtd_fault_reason_str(uint8_t reason)
{
	/* Appendix A, legacy-mode (and interrupt-remapping) reasons. */
	static const char *const legacy[] = {
		[0x0] = "no fault",
		[0x1] = "root entry not present",
		[0x2] = "context entry not present",
		[0x3] = "invalid context entry programming",
		[0x4] = "address beyond the address width",
		[0x5] = "write to a page without write permission",
		[0x6] = "read from a page without read permission",
		[0x7] = "paging entry not accessible",
		[0x8] = "root table not accessible",
		[0x9] = "context entry not accessible",
		[0xA] = "reserved field set in a root entry",
		[0xB] = "reserved field set in a context entry",
		[0xC] = "reserved field set in a paging entry",
		[0xD] = "request type blocked by the context entry",
	};
	static const char *const intr[] = {
		[0x0] = "interrupt: reserved field set in an IR request",
		[0x1] = "interrupt: index beyond the IR table size",
		[0x2] = "interrupt: IRTE not present",
		[0x3] = "interrupt: IR table not accessible",
		[0x4] = "interrupt: reserved field set in an IRTE",
		[0x5] = "interrupt: compatibility format blocked",
		[0x6] = "interrupt: invalid source id",
	};

	if (reason < RTE_DIM(legacy) && legacy[reason])
		return legacy[reason];
	if (reason >= 0x20 && reason < 0x20 + RTE_DIM(intr))
		return intr[reason - 0x20];
	if (reason >= 0x30 && reason <= 0x4f)
		return "scalable mode: root/context entry fault (SCT)";
	if (reason >= 0x50 && reason <= 0x5f)
		return "scalable mode: PASID directory/table entry fault";
	if (reason >= 0x60 && reason <= 0x9f)
		return "scalable mode: translation fault (see Appendix A)";
	return "unknown fault reason";
}

int vtd_fault_drain(struct vtd_unit *u, struct vtd_fault *out,
		    unsigned int max)
{
	struct vtd_qi *qi;
	uint32_t fro;
	unsigned int nfr, i, k, n = 0;
	uint32_t fsts;

	if (u == NULL) {
		VTD_LOG(ERR, u, "fault drain: NULL unit");
		return -EINVAL;
	}
	qi = u->qi;
	fro = (uint32_t)VTD_CAP_FRO(u->cap);
	nfr = (unsigned int)VTD_CAP_NFR(u->cap);
	if (qi == NULL)
		return -ENODEV;
	/* Housekeeping: an invalidation error nobody waited into (an ICE
	 * under a completed wait) is handled here too. */
	vtd_qi_check_faults(qi);
	if (out == NULL)
		max = UINT32_MAX;
	uvtd_lock(&qi->fault_lock);
	fsts = vtd_qi_rd32(u, VTD_REG_FSTS);
	if (!(fsts & (VTD_FSTS_PPF | VTD_FSTS_PFO))) {
		uvtd_unlock(&qi->fault_lock);
		return 0;
	}
	/* §7.2.1: records fill round-robin from FSTS.FRI; read each with F
	 * set, clear it (RW1C F), go on to the next. Every record is visited
	 * once, from FRI. */
	i = (unsigned int)VTD_FSTS_FRI(fsts) % nfr;
	for (k = 0; k < nfr && n < max; k++, i = (i + 1) % nfr) {
		uint32_t off = fro + i * VTD_FRCD_SIZE;
		uint64_t hi = vtd_qi_rd64(u, off + 8), lo;
		struct vtd_fault f;

		if (!(hi & VTD_FRCD_HI_F))
			continue;
		lo = vtd_qi_rd64(u, off);
		f.reason = (uint8_t)VTD_FRCD_HI_FR(hi);
		f.sid = (uint16_t)VTD_FRCD_HI_SID(hi);
		f.pasid = (hi & VTD_FRCD_HI_PP) ?
			  (uint32_t)VTD_FRCD_HI_PV(hi) : VTD_NO_PASID;
		f.addr = VTD_FRCD_LO_FI(lo);
		f.write = !(hi & VTD_FRCD_HI_T);   /* T=1: read */
		f.reason_str = vtd_fault_reason_str(f.reason);
		/* F is bit 127: bit 31 of the record's last dword. */
		vtd_write32(u, off + 12, (uint32_t)(VTD_FRCD_HI_F >> 32));
		VTD_LOG(ERR, u, "DMA fault: %s (reason 0x%x), %s at 0x%" PRIx64
			" by %02x:%02x.%x%s", f.reason_str, f.reason,
			f.write ? "write" : "read", f.addr, f.sid >> 8,
			(f.sid >> 3) & 0x1f, f.sid & 7,
			f.pasid != VTD_NO_PASID ? " with PASID" : "");
		if (out != NULL)
			out[n] = f;
		n++;
	}
	qi->fault_next = i;
	/* Then the status: PFO (RW1C) and PPF (which the unit derives from
	 * the F bits; writing it is harmless). */
	vtd_write32(u, VTD_REG_FSTS, VTD_FSTS_PFO | VTD_FSTS_PPF);
	uvtd_unlock(&qi->fault_lock);
	return (int)n;
}
