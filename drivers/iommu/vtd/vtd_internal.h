/* SPDX-License-Identifier: BSD-3-Clause
 * Private glue of the VT-d driver: the unit struct, register access, DMA
 * memory, logging, and the verbs the driver's parts call on each other.
 *
 * Parts:
 *   vtd_unit.c     bring-up, tear-down, capabilities, info     (unit)
 *   vtd_emu.c      the emulated unit's window and resolver      (unit)
 *   vtd_regs.c     /dev/mem windows and ownership checks        (unit)
 *   vtd_mem.c      DMA memory: tables, queue, completion words  (unit)
 *   vtd_tables.c   root, context and PASID tables               (tables)
 *   vtd_domain.c   domains, domain ids, attach and detach       (tables)
 *   vtd_pgtable.c  page tables: map, unmap, walk                (tables)
 *   vtd_qi.c       queued invalidation engine, register-based   (qi)
 *   vtd_plan.c     range -> descriptor planner                  (qi)
 *   vtd_fault.c    fault records, IQE/ITE/ICE recovery          (qi)
 *   vtd_dmar.c     ACPI DMAR table parser                       (dmar)
 *   vtd_decode.c   CAP/ECAP field names, for vtd-info           (dmar)
 *
 * Locking legend on struct fields:
 *   [I] immutable after vtd_unit_open()
 *   [L] under unit->lock (register commands: GCMD, register-based
 *       invalidation)
 *   [T] under the unit's tables lock (vtd_tables.h: attach, detach, domain
 *       ids, context and PASID tables); never held by the QI part, so
 *       attach/detach may call vtd_inv_sync while holding it
 *   [A] atomic
 *   [O] owned by one lcore
 */
#ifndef VTD_INTERNAL_H
#define VTD_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_debug.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include "uvtd_lock.h"

#include "vtd.h"
#include "vtd_hw.h"

extern int vtd_logtype;
#define VTD_LOG(level, unit, fmt, ...)                                       \
	rte_log(RTE_LOG_##level, vtd_logtype, "vtd %s: " fmt "\n",            \
		(unit) ? (unit)->name : "-", ##__VA_ARGS__)

/* ---------------------------------------------------------------------------
 * DMA memory: everything the unit reads or writes. va is where the CPU sees
 * it, iova what the unit is given (the physical address on real hardware).
 */
struct vtd_dma_mem {
	void *va;
	uint64_t iova;
	size_t size;
	const void *cookie;            /* allocator's handle */
};
int vtd_dma_alloc(struct vtd_unit *unit, size_t size, size_t align,
		  struct vtd_dma_mem *mem);
void vtd_dma_free(struct vtd_unit *unit, struct vtd_dma_mem *mem);
/* iova of a pointer inside DMA memory (RTE_BAD_IOVA if none). */
uint64_t vtd_virt2iova(const void *va);

/* Makes table writes visible to a unit whose walks do not snoop
 * (ECAP.C=0 legacy, ECAP.SMPWC=0 scalable: VT-d spec §6.6): a cache-line
 * flush of [va, va+len) and a fence. A no-op on coherent units. */
void vtd_flush_cache_range(const struct vtd_unit *unit, const void *va,
			   size_t len);

/* ---------------------------------------------------------------------------
 * The unit.
 */
struct vtd_qi;          /* vtd_qi.c */
struct vtd_tables_state; /* vtd_tables.c */
struct vtd_pt_pool;     /* vtd_mem.c */

struct vtd_unit {
	char name[32];                  /* [I] */
	struct vtd_regwin win;          /* [I] */
	uint32_t ver;                   /* [I] */
	uint64_t cap, ecap;             /* [I] */
	bool real_hw;                   /* [I] */
	unsigned int haw;               /* [I] host address width (bits) */
	bool scalable;                  /* [I] running in scalable mode */
	bool coherent;                  /* [I] walks snoop: no clflush */
	bool queued;                    /* [I] QI in use */
	uint64_t timeout_ns;            /* [I] */
	int socket_id;                  /* [I] */
	bool disable_te_on_close;       /* [I] */
	struct vtdemu *emu;             /* [I] emulated unit, or NULL */

	uvtd_lock_t lock;            /* slow path */
	uint32_t gcmd;                  /* [L] shadow of persistent GCMD bits */
	bool te;                        /* [L] */

	/* Root table and context tables (vtd_tables.c). [T]: under the tables
	 * lock (vtd_tables.h), which attach/detach hold; unit->lock is kept
	 * for register commands so that the invalidations attach sends never
	 * run under it. */
	struct vtd_dma_mem root;        /* [I] after open */
	void *ctx_tables[512];          /* [T] bus (x2 halves in scalable mode) */
	struct vtd_dma_mem ctx_mem[512];/* [T] */
	struct vtd_tables_state *tables;/* [T] vtd_tables.c: devices, PASIDs */
	struct vtd_pt_pool *pt_pool;    /* [I] vtd_mem.c: table pages */

	/* Domain ids (vtd_domain.c): bitmap of CAP.ND ids in use. */
	uint32_t nr_domain_ids;         /* [I] */
	uint64_t *did_bitmap;           /* [T] */
	uint32_t nr_domains;            /* [T] domains created on this unit */

	void *mmio_map;                 /* [I] vtd_regs.c: /dev/mem mapping */
	size_t mmio_len;                /* [I] */
	uint64_t reg_base;              /* [I] vtd_real_open: DRHD base */
	bool owns_emu;                  /* [I] vtd_emu_open: close destroys emu */

	struct vtd_qi *qi;              /* vtd_qi.c */
	unsigned int psi_threshold;     /* [A] */
};

/* Register access. Reads are volatile loads; writes are volatile stores on
 * real hardware, or the emulator's write handler (never both: a store into
 * the emulator's page would bypass RW1C and command semantics). */
/* A relaxed atomic load of a volatile location is the same single aligned
 * MOV on x86 as a plain volatile load (right for MMIO), and it tells
 * ThreadSanitizer that the emulator's hardware thread, which updates the
 * register page with atomic stores, is not racing with us. */
static inline uint32_t vtd_read32(const struct vtd_unit *u, uint32_t off)
{
	return __atomic_load_n((const volatile uint32_t *)
			       ((const volatile uint8_t *)u->win.base + off),
			       __ATOMIC_RELAXED);
}
static inline uint64_t vtd_read64(const struct vtd_unit *u, uint32_t off)
{
	return __atomic_load_n((const volatile uint64_t *)
			       ((const volatile uint8_t *)u->win.base + off),
			       __ATOMIC_RELAXED);
}
static inline void vtd_write32(const struct vtd_unit *u, uint32_t off,
			       uint32_t v)
{
	if (u->win.write_hook)
		u->win.write_hook(u->win.hook_opaque, off, v, 4);
	else
		*(volatile uint32_t *)((volatile uint8_t *)u->win.base + off) = v;
}
static inline void vtd_write64(const struct vtd_unit *u, uint32_t off,
			       uint64_t v)
{
	if (u->win.write_hook)
		u->win.write_hook(u->win.hook_opaque, off, v, 8);
	else
		*(volatile uint64_t *)((volatile uint8_t *)u->win.base + off) = v;
}

/* Polls a 32-bit register until (reg & mask) == want, bounded by the unit's
 * timeout: 0 or -ETIMEDOUT (logged with the register and the value seen). */
int vtd_poll32(const struct vtd_unit *u, uint32_t off, uint32_t mask,
	       uint32_t want, const char *what);
/* Same for 64-bit registers. */
int vtd_poll64(const struct vtd_unit *u, uint32_t off, uint64_t mask,
	       uint64_t want, const char *what);
/* Monotonic nanoseconds (rte_get_timer_cycles based). */
uint64_t vtd_now_ns(void);

/* Issues a GCMD one-shot or persistent command and waits for GSTS to
 * reflect it (VT-d spec §11.4.4). Takes unit->lock held. */
int vtd_gcmd_locked(struct vtd_unit *u, uint32_t bit, bool set);
/* Write-buffer flush (GCMD.WBF, VT-d spec §6.8) when CAP.RWBF asks for it,
 * else nothing: after table updates, before invalidations. Takes and
 * releases unit->lock. */
int vtd_flush_write_buffer(struct vtd_unit *u);

/* ---------------------------------------------------------------------------
 * Invalidation engine (vtd_qi.c), as seen by the rest of the driver.
 */
/* Sets up QI (or register-based invalidation) on a unit whose root table
 * is set; called by vtd_unit_open. */
int vtd_qi_init(struct vtd_unit *u, uint32_t entries, enum vtd_inval_mode m);
void vtd_qi_fini(struct vtd_unit *u);

/* Slow path: runs descriptors synchronously (QI, or their register-based
 * equivalents when QI is off) from any thread. Used by bring-up, attach and
 * detach. Only context-cache, IOTLB, device-TLB, PASID-cache and
 * PASID-IOTLB descriptors; the wait is added here. */
int vtd_inv_sync(struct vtd_unit *u, const struct vtd_desc *descs,
		 unsigned int n);

/* Appends one descriptor to a qctx's batch (submitting first when full). */
int vtd_qctx_add(struct vtd_qctx *q, const struct vtd_desc *d);

/* ---------------------------------------------------------------------------
 * Planner (vtd_plan.c): exact, naturally aligned page-selective blocks.
 */
struct vtd_psi_block {
	uint64_t addr;                  /* aligned to 2^am pages */
	unsigned int am;                /* address mask: 2^am pages */
};
/* Splits [iova, iova+len) (4 KiB granular; iova rounded down, end rounded
 * up) into the fewest naturally aligned blocks with am <= mamv. Returns the
 * block count (<= max), or -E2BIG when more than max would be needed, or
 * -ERANGE when the range wraps past 2^64. len 0 is an empty range. */
int vtd_plan_psi(uint64_t iova, uint64_t len, unsigned int mamv,
		 struct vtd_psi_block *out, unsigned int max);

struct vtd_domain_attach;

/* The invalidation policy as a pure function (vtd_inv_range gathers its
 * inputs): what to invalidate, on which unit capabilities, for which
 * attachments of the domain on that unit. */
#define VTD_PLAN_MAX_BLOCKS 64          /* cap of the PSI threshold */
struct vtd_plan_req {
	uint64_t cap, ecap;             /* the unit's CAP and ECAP */
	bool dw256;                     /* the queue takes 256-bit descriptors */
	enum vtd_domain_kind kind;
	unsigned int width;             /* domain address width in bits */
	uint64_t iova, len;             /* iova 0, len 0: everything */
	unsigned int flags;             /* VTD_INV_* */
	unsigned int threshold;         /* PSI blocks above which: DSI */
	/* Room of an empty batch (0: max). A page-selective plan that does
	 * not fit in max but fits in room returns -E2BIG, so that the
	 * caller sends its batch and plans again, rather than turning into
	 * a domain-selective one. */
	unsigned int room;
	const struct vtd_domain_attach *devs;
	unsigned int ndevs;
};
struct vtd_plan_counts {
	unsigned int psi, dsi, devtlb, pasid;
};
/* Writes the descriptors into out[] (at most max: IOTLB invalidations of
 * every distinct domain id, then device-TLB invalidations of every ATS
 * endpoint, all in one batch) and returns their count, or -ERANGE (range
 * wraps), -ENOTSUP (first-stage domain on a 128-bit queue), -E2BIG (even a
 * domain-selective plan does not fit in max, or the page-selective plan
 * fits in r->room but not in max). */
int vtd_plan_inv(const struct vtd_plan_req *r, struct vtd_desc *out,
		 unsigned int max, struct vtd_plan_counts *cnt);
/* Device-TLB ADDR for a block of 2^am pages at addr, with its S bit
 * (am >= 52: every address). */
uint64_t vtd_plan_devtlb_addr(uint64_t addr, unsigned int am, int *s);

/* ---------------------------------------------------------------------------
 * Domains (vtd_domain.c, vtd_pgtable.c), as seen by the QI part.
 */
struct vtd_domain_attach {
	struct vtd_unit *unit;
	uint16_t did;
	uint16_t sid;
	bool ats;
	unsigned int ats_qdepth;
	/* VTD_NO_PASID: requests without PASID. In scalable mode those are
	 * translated through the RID_PASID entry, PASID 0 (vtd_tables.h
	 * VTD_RID_PASID): PASID-based invalidations for them (PASID-cache,
	 * PASID-IOTLB of a first-stage or pass-through domain) use PASID 0,
	 * device-TLB invalidations the non-PASID form (§6.5.2.5). Otherwise
	 * the PASID the device was attached with. */
	uint32_t pasid;
};
/* Snapshot of where a domain is attached, for building invalidations.
 * Returns the count written to out (<= max). Lock-free for readers
 * (a sequence count). unit NULL: on every unit. */
unsigned int vtd_domain_attachments(const struct vtd_domain *dom,
				    const struct vtd_unit *unit,
				    struct vtd_domain_attach *out,
				    unsigned int max);
enum vtd_domain_kind vtd_domain_kind(const struct vtd_domain *dom);

#endif /* VTD_INTERNAL_H */
