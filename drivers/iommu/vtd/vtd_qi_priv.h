/* SPDX-License-Identifier: BSD-3-Clause
 * Private to the invalidation part (vtd_qi.c, vtd_fault.c): the software
 * side of the unit's one hardware invalidation queue and the per-lcore
 * submit contexts that feed it.
 *
 * Locking legend (as in vtd_internal.h):
 *   [I] immutable after vtd_qi_init   [A] atomic   [O] owner lcore only
 *   [C] publisher only: the thread holding pub_lock (a producer publishing
 *       filled batches, or the recoverer, which takes it once the producers
 *       are stopped); handed on by pub_lock's release and acquire, so these
 *       fields need no atomics of their own.
 *   [R] the recoverer only (qi->recovering won)
 */
#ifndef VTD_QI_PRIV_H
#define VTD_QI_PRIV_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_lcore.h>
#include <rte_pause.h>

#include "vtd_internal.h"

/* Contexts: one per DPDK lcore id, plus one shared (locked) context for
 * threads without an lcore id and for vtd_inv_sync. */
#define VTD_QCTX_SHARED      RTE_MAX_LCORE
#define VTD_QCTX_COUNT       (RTE_MAX_LCORE + 1)
#define VTD_QCTX_NONE        0xffu          /* owner of a recovery slot */
static_assert(VTD_QCTX_COUNT < VTD_QCTX_NONE, "context index fits 8 bits");

#define VTD_QCTX_BATCH_MAX   128            /* descriptors before auto-submit */
#define VTD_QCTX_MARKS       8              /* IQE marks kept per context */
#define VTD_QI_LINE          64             /* completion word stride */

/* prod_head: free-running slot index in bits 31:0; bit 32 is the producer
 * lock the recoverer takes to quiesce the ring (no new reservation). */
#define VTD_QI_PROD_LOCK     (1ULL << 32)

/* Fill mark of the slot where a batch starts: start position 63:32, end
 * position 31:0 (free-running), stored once the batch's slots are written.
 * A mark counts only for the position it names, so a mark from an earlier
 * lap never matches; a consumed mark is reset to VTD_QI_FILL_NONE, whose
 * start equals its end (no batch is empty: each ends with a wait). */
#define VTD_QI_FILL(start, end) (((uint64_t)(start) << 32) | (uint32_t)(end))
#define VTD_QI_FILL_NONE     UINT64_MAX

/* pub_lock: the lock bit and one poke (see vtd_qi.c, No lost batch). */
#define VTD_QI_PUB_LOCKED    1u
#define VTD_QI_PUB_POKE      2u

/* Slot ownership record: which batch a slot belongs to, so a fault at IQH
 * can be attributed. seq 63:32, context 31:24, lap tag 23:0 (the slot's
 * free-running position >> log2(slots), to tell this lap from the last). */
#define VTD_QI_REC(seq, ctx, lap) \
	(((uint64_t)(seq) << 32) | ((uint64_t)(ctx) << 24) | ((lap) & 0xffffffu))
#define VTD_QI_REC_SEQ(r)    ((uint32_t)((r) >> 32))
#define VTD_QI_REC_CTX(r)    ((unsigned int)(((r) >> 24) & 0xff))
#define VTD_QI_REC_LAP(r)    ((uint32_t)((r) & 0xffffffu))

/* 32 bytes a slot, as a 256-bit descriptor: the smallest batch (one
 * invalidation and its wait) then has its bookkeeping on a line of its own,
 * as its descriptors are on one ring line, and two lcores' neighbouring
 * batches do not pass lines back and forth (two-lcore batched rate +10 %
 * at the 75th percentile against 16 bytes a slot, devtools/bench-scaling). */
struct vtd_qi_meta {
	_Atomic uint64_t owner;               /* VTD_QI_REC */
	_Atomic uint64_t fill;                /* VTD_QI_FILL */
	uint64_t pad[2];
};
static_assert(sizeof(struct vtd_qi_meta) == 32, "two slots a cache line");

struct vtd_qctx_stats {
	uint64_t submits, descs, waits, iqt_writes;
	uint64_t psi, dsi, global, devtlb, cc, pasid;
	uint64_t head_reads, timeouts;
	uint64_t publish_waits, handoffs;
};

struct vtd_qctx {
	/* Hot, owner only. */
	struct vtd_qi *qi;                    /* [I] */
	struct vtd_unit *unit;                /* [I] */
	uint32_t nr;                          /* [O] descriptors in batch */
	uint32_t cap;                         /* [I] batch capacity */
	uint32_t seq;                         /* [O] last sequence submitted */
	/* [O] newest sequence a wait returned its verdict for (not the
	 * shared context): a wait also reports the faults of the batches
	 * submitted after it and before its own, which nobody waited for
	 * (pieces a full batch sent by itself). */
	uint32_t waited;
	uint16_t idx;                         /* [I] index in qi->ctx[] */
	bool shared;                          /* [I] the locked context */
	uint32_t *done;                       /* [I] completion word (DMA),
					       * written by the unit */
	uint64_t done_iova;                   /* [I] */
	uvtd_lock_t lock;                   /* shared context only */

	/* Fault marks, written by the recoverer, read by the owner. */
	alignas(64) _Atomic uint32_t nmarks;  /* [A] marks ever written */
	_Atomic uint32_t mark_next;           /* [R] next iqe[] slot */
	_Atomic uint64_t iqe[VTD_QCTX_MARKS]; /* [A] 1 << 32 | seq: invalid */
	/* [A] sequence numbers whose waits an ITE aborted: lo 31:0, hi 63:32,
	 * empty when lo == hi + 1. */
	_Atomic uint64_t aborted;

	/* Statistics: the owner stores (relaxed), anyone loads. */
	alignas(64) struct vtd_qctx_stats st;

	alignas(64) struct vtd_desc batch[];  /* [O] */
};

struct vtd_qi {
	struct vtd_unit *unit;                /* [I] */
	bool queued;                          /* [I] QI, else registers */
	bool dw;                              /* [I] 256-bit descriptors */
	uint32_t nslots, mask;                /* [I] */
	unsigned int order;                   /* [I] log2(nslots) */
	unsigned int shift;                   /* [I] 4 or 5: slot -> IQH/IQT */
	unsigned int batch_cap;               /* [I] */
	uint8_t *ring;                        /* [I] the queue (DMA) */
	struct vtd_dma_mem ring_mem;          /* [I] */
	struct vtd_dma_mem words_mem;         /* [I] completion words */
	uint32_t *scratch;                    /* [I] status word of waits that
					       * replace bad descriptors */
	uint64_t scratch_iova;                /* [I] */
	/* [A] per slot: its ownership record and fill mark, side by side:
	 * a producer writes both for its batch's slots, so they cost it one
	 * cache line, not two (see struct vtd_qi_meta). */
	struct vtd_qi_meta *meta;
	uint64_t soft_cycles;                 /* [I] FSTS looked at after this */
	uint64_t timeout_cycles;              /* [I] every poll's bound */
	uint64_t handoff_cycles;              /* [I] pub_lock wait, qi_publish;
					       * 0: poke at once (tests) */

	/* Producer side, each on its own line. */
	alignas(64) _Atomic uint64_t prod_head; /* [A] next slot to reserve */
	alignas(64) _Atomic uint32_t prod_tail; /* [A] slots < it published;
					       * written under pub_lock */
	uint32_t iqt_shadow;                  /* [C] value last written to IQT */
	/* [A] bit 0: a publisher is at it (the lock); bits 31:1 count the
	 * producers that found it taken and left their batch to it. On the
	 * line of prod_tail and iqt_shadow, which its holder writes: one
	 * line moves to a new publisher, not two. */
	_Atomic uint32_t pub_lock;
	alignas(64) _Atomic uint32_t cons;    /* [A] a head the unit passed */

	/* Recovery. */
	alignas(64) _Atomic uint32_t recovering; /* [A] election flag */
	_Atomic uint64_t iqe, ite, ice;       /* [A] counts */
	uvtd_lock_t fault_lock;             /* fault record draining */
	unsigned int fault_next;              /* [fault_lock] next FRCD */

	uvtd_lock_t create_lock;            /* context creation */
	struct vtd_qctx *_Atomic ctx[VTD_QCTX_COUNT]; /* [A] lazily created */
};

/* vtd_fault.c: looks at FSTS and, when an invalidation error is pending
 * and no one else is at it, recovers (IQE, ITE, ICE). Returns 0 when there
 * was nothing to do, 1 when it recovered, -EBUSY when another thread is
 * recovering. Called only by waiters past their soft bound, never on the
 * fast path. */
int vtd_qi_check_faults(struct vtd_qi *qi);

/* vtd_qi.c verbs the recovery uses. */
uint32_t vtd_qi_head_refresh(struct vtd_qi *qi);
static inline uint32_t vtd_qi_lap(const struct vtd_qi *qi, uint32_t pos)
{
	return (pos >> qi->order) & 0xffffffu;
}
static inline bool vtd_qi_seq_done(const struct vtd_qctx *c, uint32_t seq)
{
	/* Acquire pairs with the unit's status write, which follows its
	 * completion of every earlier descriptor (§6.5.2.8). */
	uint32_t done = __atomic_load_n(c->done, __ATOMIC_ACQUIRE);

	return (int32_t)(done - seq) >= 0;
}
/* Register reads the QI part makes with acquire semantics: on real
 * hardware an uncached load like any other, on the emulator the pairing of
 * its release stores of IQH/FSTS (so that, e.g., a slot is reused only
 * after the unit finished reading it). */
static inline uint64_t vtd_qi_rd64(const struct vtd_unit *u, uint32_t off)
{
	return __atomic_load_n((const volatile uint64_t *)
			       ((const volatile uint8_t *)u->win.base + off),
			       __ATOMIC_ACQUIRE);
}
static inline uint32_t vtd_qi_rd32(const struct vtd_unit *u, uint32_t off)
{
	return __atomic_load_n((const volatile uint32_t *)
			       ((const volatile uint8_t *)u->win.base + off),
			       __ATOMIC_ACQUIRE);
}
/* Copies a descriptor into its slot (16 or 32 bytes). */
static inline void vtd_qi_slot_write(struct vtd_qi *qi, uint32_t pos,
				     const struct vtd_desc *d)
{
	uint64_t *s = (uint64_t *)(void *)(qi->ring + ((size_t)(pos & qi->mask)
						       << qi->shift));

	s[0] = d->qw[0];
	s[1] = d->qw[1];
	if (qi->dw) {
		s[2] = d->qw[2];
		s[3] = d->qw[3];
	}
}
/* Sets the producer lock, waits until every reservation made before it
 * has been published (and its IQT write, if any, done), then takes
 * pub_lock until vtd_qi_producers_resume. Returns the free-running tail,
 * which is then the ring's whole content. */
uint32_t vtd_qi_producers_stop(struct vtd_qi *qi);
void vtd_qi_producers_resume(struct vtd_qi *qi);
/* Writes IQT with the tail: [C] (producers stopped). */
void vtd_qi_write_tail(struct vtd_qi *qi, uint32_t tail);

#endif /* VTD_QI_PRIV_H */
