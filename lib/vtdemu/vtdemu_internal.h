/* SPDX-License-Identifier: BSD-3-Clause
 * lib/vtdemu private glue: the unit struct and the verbs its parts call on
 * each other. Two halves:
 *   front end (registers, queued and register-based invalidation, fault
 *     recording registers, cost model, injection, hardware thread, dump):
 *     vtdemu.c vtdemu_caps.c vtdemu_regs.c vtdemu_qi.c vtdemu_fault.c
 *     vtdemu_cost.c vtdemu_dump.c
 *   back end (table walker, caches, DMA engine, stale checker):
 *     vtdemu_walk.c vtdemu_cache.c vtdemu_dma.c vtdemu_stale.c
 *
 * Locking legend:
 *   [R]  written under emu->reg_lock (register writes, queue processing)
 *   [A]  atomic; readable without a lock
 *   [C]  owned by the back end, under its own cache lock(s)
 *   [I]  immutable after vtdemu_create()
 * Lock order: reg_lock before any back-end lock. The back end never calls
 * into the front end while holding a cache lock, except emu_fault_record(),
 * which takes only fault_lock.
 */
#ifndef VTDEMU_INTERNAL_H
#define VTDEMU_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>

#include "vtdemu.h"

/* Statistics, one shard per thread that updates them: the owner adds with
 * plain (relaxed) loads and stores on its own cache lines, and readers sum
 * the shards. One shared set of counters took a locked add per event on
 * lines that every thread writing IQT moved to its core: with two lcores
 * publishing in turn, the statistics of a queue run were a good part of
 * the run (lib/uvtd's bench_svc, docs/benchmarks.md). */
struct emu_stat_shard {
	struct vtdemu_stats s;
	struct emu_stat_shard *next;        /* [I] once pushed */
	pthread_t owner;                    /* [I] */
	bool owned;                         /* [I] false: the spill shard */
} __attribute__((aligned(64)));

struct emu_qi;      /* front end */
struct emu_thread;  /* front end */
struct emu_backend; /* back end: caches, stale log */

struct vtdemu {
	struct vtdemu_config cfg;           /* [I] */
	uint32_t ver;                       /* [I] */
	uint64_t cap, ecap;                 /* [I] */

	/* Register file, page aligned, vtdemu_regs_size() bytes. */
	uint8_t *regs;                      /* content [R]; readers load */
	size_t regs_size;                   /* [I] */
	/* On its own line: every lock and unlock writes it, and the fields
	 * around it are read by every thread. */
	alignas(64) pthread_mutex_t reg_lock;
	/* The queue's fetch position, on the lock's line: every IQT write
	 * takes the lock and moves them, so one line, not two, goes to the
	 * core that writes IQT. [R] */
	uint32_t qi_head, qi_tail;         /* slot indices */
	_Atomic uint32_t qi_a_head;        /* [A] mirrors for quiesce */
	_Atomic uint32_t qi_a_tail;

	/* State the back end reads, published by the front end. */
	alignas(64) _Atomic uint64_t root_table;        /* [A] RTADDR latched by SRTP: RTA|TTM */
	_Atomic bool translation_enabled;   /* [A] GSTS.TES */

	struct emu_qi *qi;                  /* front end */
	struct emu_thread *thread;          /* front end, threaded mode */
	pthread_mutex_t fault_lock;         /* fault recording registers */
	uint32_t frcd_next;                 /* next fault record to use
					     * (§7.2.1), under fault_lock */

	struct emu_backend *backend;        /* [C] */

	/* Statistics (see struct emu_stat_shard). */
	uint64_t serial;                    /* [I] unique among all units */
	struct emu_stat_shard *_Atomic shards; /* [A] push-only list */
	pthread_mutex_t stats_lock;         /* shard creation, base */
	struct vtdemu_stats base;           /* [stats_lock] the sums at the
					     * last reset */
	/* Used, with atomic adds, by a thread whose shard could not be
	 * allocated. */
	struct emu_stat_shard spill;
};

/* The calling thread's shard of emu's statistics (never NULL). */
struct emu_stat_shard *emu_shard_slow(struct vtdemu *emu);
struct emu_shard_tls {
	uint64_t serial;
	struct emu_stat_shard *sh;
};
#define EMU_SHARD_TLS 4
extern __thread struct emu_shard_tls emu_shard_tls[EMU_SHARD_TLS];

static inline struct emu_stat_shard *emu_shard(struct vtdemu *emu)
{
	for (unsigned int i = 0; i < EMU_SHARD_TLS; i++)
		if (emu_shard_tls[i].serial == emu->serial)
			return emu_shard_tls[i].sh;
	return emu_shard_slow(emu);
}

static inline void emu_shard_add(struct emu_stat_shard *sh, size_t off,
				 uint64_t n)
{
	uint64_t *p = (uint64_t *)(void *)((uint8_t *)&sh->s + off);

	/* Readers load relaxed; only the owner stores. */
	if (__builtin_expect(sh->owned, 1))
		__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n,
				 __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

#define EMU_STAT_OFF(field) offsetof(struct vtdemu_stats, field)
/* Adds to a counter of the calling thread's shard. */
#define EMU_STAT_ADD(emu, field, n) \
	emu_shard_add(emu_shard(emu), EMU_STAT_OFF(field), (uint64_t)(n))
/* The same with a shard already looked up (several counters in a row). */
#define EMU_SHARD_ADD(sh, field, n) \
	emu_shard_add((sh), EMU_STAT_OFF(field), (uint64_t)(n))

/* Sum of every shard's field, less the base (a reset's). */
uint64_t emu_stat_sum(struct vtdemu *emu, size_t off);
void emu_stat_rebase(struct vtdemu *emu, size_t off);

/* Resolves "physical" memory through the configured callback. NULL when it
 * does not exist; never for a range crossing a 4 KiB boundary. */
void *emu_mem(struct vtdemu *emu, uint64_t addr, size_t len);

/* Translation type modes latched from RTADDR.TTM (VT-d spec §11.4.5). */
#define EMU_TTM_LEGACY   0
#define EMU_TTM_SCALABLE 1

/* ------------------------------------------------------------------------
 * Back end verbs, called by the front end (with reg_lock held when they come
 * from a descriptor or a register command).
 */
int emu_backend_init(struct vtdemu *emu, char *err, size_t errlen);
void emu_backend_fini(struct vtdemu *emu);

/* Context-cache invalidation (VT-d spec §6.5.2.1): gran 1 global, 2 domain
 * (did), 3 device (did, sid, function mask fm). Device-selective matches
 * both SID and DID; CM=1 not-present contexts are tagged DID 0. Scalable-
 * mode context entries carry no DID: domain-selective drops them all,
 * device-selective matches the SID only. */
void emu_inv_context(struct vtdemu *emu, unsigned int gran, uint16_t did,
		     uint16_t sid, unsigned int fm);

/* IOTLB invalidation (§6.5.2.3; register-based §6.5.1.2): gran 1 global,
 * 2 domain (did), 3 page (did, addr aligned to 2^am pages, am, ih: keep
 * paging-structure caches). In scalable mode it drops the entries of every
 * PASID of the domain (§6.5.2.3). Returns the pages a hypervisor shadowing
 * this unit would re-walk (cost model, CM=1): for global/domain, the present
 * leaf entries of the domains' tables (found by walking the root, context
 * and PASID tables; 0 when CAP.CM=0, where nothing shadows); for
 * page-selective, 2^am. */
uint64_t emu_inv_iotlb(struct vtdemu *emu, unsigned int gran, uint16_t did,
		       uint64_t addr, unsigned int am, bool ih);

/* PASID-based IOTLB invalidation (§6.5.2.4): gran 2 all of (did, pasid),
 * 3 page within (did, pasid). Affects first-stage and pass-through entries
 * of that PASID only. Returns pages shadowed as above. */
uint64_t emu_inv_pasid_iotlb(struct vtdemu *emu, unsigned int gran,
			     uint16_t did, uint32_t pasid, uint64_t addr,
			     unsigned int am, bool ih);

/* PASID-cache invalidation (§6.5.2.2): gran 0 domain (did), 1 PASID
 * (did, pasid), 3 global. */
void emu_inv_pasid_cache(struct vtdemu *emu, unsigned int gran, uint16_t did,
			 uint32_t pasid);

/* Device-TLB invalidation (§6.5.2.5 and §6.5.2.6) of endpoint sid: the range
 * [addr, addr + size); pasid VTDEMU_NO_PASID for requests without PASID;
 * global: every PASID of the endpoint (entries of requests with PASID;
 * those without go with a type-3 invalidation). The whole address space (ATS size
 * 2^64) comes as addr 0, size UINT64_MAX. */
void emu_inv_devtlb(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
		    bool global, uint64_t addr, uint64_t size);

/* Every cache of the unit (SRTP with CAP.ESRTPS); not the endpoints'
 * device TLBs, which only device-TLB invalidations reach. */
void emu_inv_all(struct vtdemu *emu);

/* ------------------------------------------------------------------------
 * Front end verbs, called by the back end.
 */

/* stats.faults[reason] is counted by the back end for every fault, recorded
 * or not; faults_recorded and faults_overflow by emu_fault_record. */

/* Records a primary fault in the fault recording registers (§7.2.1): the
 * next free record from FSTS.FRI, F set, FSTS.PPF set; FSTS.PFO and
 * stats.faults_overflow when every record is full. Sets fault->recorded. */
void emu_fault_record(struct vtdemu *emu, struct vtdemu_fault_info *fault);

#endif /* VTDEMU_INTERNAL_H */
