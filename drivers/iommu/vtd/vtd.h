/* SPDX-License-Identifier: BSD-3-Clause
 * The uvtd VT-d poll-mode driver: its API to the layer above (lib/uvtd, the
 * apps and the tests). Nothing here exposes a VT-d register bit; decoded
 * capabilities come as named fields.
 *
 * Model:
 *   unit     one remapping unit (DRHD): its register window, root/context
 *            (and PASID) tables, one hardware invalidation queue.
 *   domain   an address space: a second-stage (or first-stage, or
 *            pass-through) page table, with a domain id on each unit it is
 *            attached on.
 *   qctx     a per-lcore submit context on a unit: the batch of descriptors
 *            an lcore is building, its completion word and sequence number.
 *            Building a batch takes no lock; submitting into the unit's one
 *            hardware ring is lock-free and multi-producer.
 *
 * Call order: vtd_unit_open (after rte_eal_init) -> vtd_domain_create ->
 * vtd_attach -> vtd_map / vtd_unmap + vtd_inv_range + vtd_qctx_submit +
 * vtd_qctx_wait -> vtd_detach -> vtd_domain_destroy -> vtd_unit_close.
 *
 * Thread safety: vtd_map/vtd_unmap on disjoint ranges of one domain run
 * concurrently without locks; a qctx is used by its lcore only; the other
 * calls (open/close, domain create/destroy, attach/detach) are slow-path and
 * serialize internally.
 *
 * Errors: negative errno, with a log line (log type uvtd.vtd) saying what was
 * wrong. A rejected call changes nothing.
 */
#ifndef VTD_H
#define VTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vtd_unit;
struct vtd_domain;
struct vtd_qctx;
struct vtdemu;
struct vtdemu_config;

#define VTD_MAX_UNITS   8
#define VTD_NO_PASID    UINT32_MAX

/* ---------------------------------------------------------------------------
 * Register window: what the driver reads and writes the unit through.
 */
typedef void (*vtd_write_hook_t)(void *opaque, uint32_t offset,
				 uint64_t value, unsigned int size);
struct vtd_regwin {
	volatile void *base;       /* mapped registers */
	size_t size;
	/* NULL on real hardware (a write is a volatile store). The emulator's
	 * write handler otherwise: the write goes to it instead of a store. */
	vtd_write_hook_t write_hook;
	void *hook_opaque;
};

/* ---------------------------------------------------------------------------
 * Units
 */
enum vtd_tmode {
	VTD_TMODE_AUTO = 0,   /* scalable where ECAP.SMTS, else legacy */
	VTD_TMODE_LEGACY,
	VTD_TMODE_SCALABLE,
};

enum vtd_inval_mode {
	VTD_INVAL_AUTO = 0,   /* queued where ECAP.QI, else register-based */
	VTD_INVAL_QUEUED,
	VTD_INVAL_REGISTER,
};

struct vtd_unit_params {
	const char *name;             /* for logs and telemetry */
	struct vtd_regwin win;
	bool real_hw;                 /* a /dev/mem window: IOVA must be PA */
	bool force;                   /* take a unit the kernel seems to own */
	enum vtd_tmode tmode;
	enum vtd_inval_mode inval;
	uint32_t qi_entries;          /* hardware queue slots (power of two);
	                               * 0: 256 */
	uint64_t timeout_ns;          /* bound of every poll; 0: 1 s */
	bool enable_translation;      /* set GCMD.TE at the end of bring-up
	                               * (default false: only when asked) */
	/* On close: false (default) leaves translation on with every device
	 * context cleared, so DMA stays blocked (a real unit on the blocking
	 * root table, which outlives the process: docs/driver.md); true
	 * disables translation. */
	bool disable_translation_on_close;
	int socket_id;                /* memory for tables; SOCKET_ID_ANY ok */
	/* Host address width: the unit reads and writes memory below
	 * 2^haw only (the DMAR table's HAW). 0: CAP.MGAW, as QEMU's model
	 * and vtdemu have it. DMA memory above it is refused at allocation,
	 * physical addresses above it at vtd_map. */
	unsigned int haw;
};
void vtd_unit_params_init(struct vtd_unit_params *p);

/* Brings a unit up (VT-d spec §10.4.4 root table, §6.5.2 QI, §10.4.4.x TE).
 * Returns 0 and *out, or a negative errno. */
int vtd_unit_open(const struct vtd_unit_params *p, struct vtd_unit **out);
/* Tears it down (see disable_translation_on_close). Domains must be gone. */
int vtd_unit_close(struct vtd_unit *unit);

/* An emulated unit whose "physical" memory is this process's DPDK memory
 * (iova-to-virt in PA mode, the identity in VA mode). cfg may be NULL for
 * the defaults; cfg->resolve is filled in by the driver. *emu_out (if not
 * NULL) receives the emulator, for its DMA engine and statistics; it is
 * destroyed by vtd_unit_close. */
int vtd_emu_open(const struct vtdemu_config *cfg,
		 const struct vtd_unit_params *p, struct vtd_unit **out,
		 struct vtdemu **emu_out);
/* The resolver vtd_emu_open gives the emulator (a vtdemu_resolve_fn;
 * opaque is unused): a DPDK IOVA to this process's address, NULL for memory
 * that is not DPDK's or that DPDK has freed (vtd_emu.c says how it knows
 * without taking a lock). For callers that create a vtdemu themselves and
 * open it with vtd_unit_open (its window, vtdemu_reg_write_hook); such a
 * unit does not own the emulator and leaves it alive at close. */
void *vtd_emu_resolve(void *opaque, uint64_t addr, size_t len);

/* A real unit at register base `base` (from the DMAR table), mapped through
 * /dev/mem. Only inside a QEMU guest or on a machine given to uvtd: refuses
 * a unit the kernel owns or that is in use unless p->force, and
 * IOVA-as-VA mode always. A unit an earlier uvtd closed (translation on,
 * RTADDR on uvtd's blocking root table for this base) is taken without
 * force. */
int vtd_real_open(uint64_t base, size_t size, const struct vtd_unit_params *p,
		  struct vtd_unit **out);

struct vtd_unit_info {
	const char *name;
	uint32_t ver;
	uint64_t cap, ecap;            /* raw, for printing */
	bool scalable;                 /* running in scalable mode */
	bool queued;                   /* queued invalidation in use */
	bool translation_enabled;
	bool coherent;                 /* page walks snoop the CPU caches */
	bool caching_mode;             /* CAP.CM: a virtualized unit */
	bool rwbf;
	bool psi;
	unsigned int mamv;
	uint32_t domain_ids;           /* 2^(4+2*ND) */
	unsigned int widths;           /* bit 0 39, bit 1 48, bit 2 57 bits */
	bool sl_2m, sl_1g, fl_1g;
	bool first_stage, second_stage, pass_through, devtlb, pasid, snoop;
	unsigned int fault_records;
	uint32_t qi_entries;
	unsigned int desc_bytes;       /* 16 or 32 */
};
int vtd_unit_get_info(const struct vtd_unit *unit, struct vtd_unit_info *info);

/* Fault records drained so far (decoded, and logged as they are drained). */
struct vtd_fault {
	uint8_t reason;
	uint16_t sid;
	uint32_t pasid;                /* VTD_NO_PASID when none */
	uint64_t addr;
	bool write;
	const char *reason_str;
};
/* Reads and clears pending fault records into out[]; returns how many. */
int vtd_fault_drain(struct vtd_unit *unit, struct vtd_fault *out,
		    unsigned int max);
const char *vtd_fault_reason_str(uint8_t reason);

/* ---------------------------------------------------------------------------
 * Domains
 */
enum vtd_domain_kind {
	VTD_DOMAIN_SECOND_STAGE = 0,
	VTD_DOMAIN_FIRST_STAGE,       /* scalable mode with ECAP.FLTS */
	VTD_DOMAIN_PASSTHROUGH,       /* ECAP.PT */
};

struct vtd_domain_params {
	enum vtd_domain_kind kind;
	unsigned int addr_width;      /* 39, 48 or 57; 0: the widest allowed */
	bool snoop;                   /* snoop bits where supported */
	bool superpages;              /* use 2 MiB / 1 GiB leaves (default on
	                               * in vtd_domain_params_init) */
};
void vtd_domain_params_init(struct vtd_domain_params *p);

/* Creates a domain shaped by unit's capabilities. Whether maps need a flush
 * (CAP.CM with second-stage tables, or CAP.RWBF) is decided here and never
 * changes. */
int vtd_domain_create(struct vtd_unit *unit, const struct vtd_domain_params *p,
		      struct vtd_domain **out);
/* -EBUSY while devices are attached. */
int vtd_domain_destroy(struct vtd_domain *dom);

/* True when a map must be followed by vtd_inv_range(..., VTD_INV_MAP):
 * fixed at creation; callers cache it and skip every flush step when false. */
bool vtd_domain_map_flush(const struct vtd_domain *dom);
/* IOVAs the domain maps are below 2^width. Second stage: the width asked
 * (or the widest CAP.MGAW and SAGAW allow), on the smallest SAGAW table
 * that covers it. First stage: the lower canonical half of a 4- or 5-level
 * table, so 47 or 56 bits (or 39 when asked). */
unsigned int vtd_domain_width(const struct vtd_domain *dom);
/* The domain id on this unit, or -ENOENT if not attached on it. */
int vtd_domain_id(const struct vtd_domain *dom, const struct vtd_unit *unit);

struct vtd_attach_params {
	uint16_t sid;                 /* requester id: bus << 8 | devfn */
	bool ats;                     /* the endpoint has a device TLB */
	unsigned int ats_qdepth;      /* its invalidate queue depth (0: 32) */
	uint32_t pasid;               /* VTD_NO_PASID: requests without PASID
	                               * (scalable mode uses RID_PASID) */
};
/* Points the device's context (and PASID) entry at the domain, with the
 * invalidations the specification orders (§6.5.3.x). -EINVAL (with the
 * reason logged) if the domain cannot run on this unit, e.g. the unit needs
 * map-side flushes the domain was not created with. */
int vtd_attach(struct vtd_domain *dom, struct vtd_unit *unit,
	       const struct vtd_attach_params *p);
int vtd_detach(struct vtd_domain *dom, struct vtd_unit *unit, uint16_t sid);

/* ---------------------------------------------------------------------------
 * Page tables
 */
#define VTD_PERM_READ   1u
#define VTD_PERM_WRITE  2u

/* What an unmap collected for its invalidation. Table pages are freed by
 * vtd_gather_release() only after an invalidation with IH=0 covering
 * them has completed (nr_freed > 0: invalidate with VTD_INV_TABLES_FREED).
 * A table page is released by the unmap whose range covers the table's
 * whole span (2 MiB for a table of 4 KiB leaves, 1 GiB for the level
 * above...); a table emptied piecewise stays installed, is reused by later
 * maps, and goes with vtd_domain_destroy. So map+unmap of single pages
 * never allocates or frees a table. */
struct vtd_gather {
	uint64_t start;               /* range unmapped */
	uint64_t end;                 /* exclusive */
	void *freelist;               /* table pages to free later */
	uint32_t nr_freed;
};
#define VTD_GATHER_INIT { UINT64_MAX, 0, NULL, 0 }

/* Maps [iova, iova+len) to [phys, phys+len): 4 KiB aligned, within the
 * domain's width, no overlap with a live mapping (-EEXIST, nothing
 * changed). Uses 2 MiB / 1 GiB leaves where SLLPS (FL1GP for 1 GiB first
 * stage), the domain's superpages setting and the alignment of iova, phys
 * and len allow, and no emptied table still sits in that slot (then 4 KiB
 * leaves). Makes no invalidation: see vtd_domain_map_flush(). Lock-free;
 * concurrent calls on disjoint ranges are safe. */
int vtd_map(struct vtd_domain *dom, uint64_t iova, uint64_t phys,
	    uint64_t len, unsigned int perm);
/* Unmaps [iova, iova+len). -ENOENT if any page of it is not mapped (nothing
 * changed). Unmapping part of a superpage leaf: -EINVAL (nothing changed);
 * the caller unmaps what it mapped. */
int vtd_unmap(struct vtd_domain *dom, uint64_t iova, uint64_t len,
	      struct vtd_gather *g);
void vtd_gather_release(struct vtd_domain *dom, struct vtd_gather *g);

/* A burst's walk cache: the last-level table the previous 4 KiB map or
 * unmap of the burst reached, so that a neighbour in the same 2 MiB span
 * goes straight to its entry instead of walking 3 or 4 levels again (the
 * walks were a third of a batched burst's time). VTD_WALK_INIT it at the
 * start of a burst and drop it at the end: a table is freed only by an
 * unmap of its whole span, which no concurrent call can make while the
 * burst's pages in it are mapped (calls on one domain work on disjoint
 * ranges), but between bursts it can be. An unmap of 2 MiB or more (it
 * may free tables of its range) or a call that fails starts it again;
 * other lengths keep it (maps only install tables). */
struct vtd_walk {
	uint64_t span;                  /* iova >> 21 of the cached table */
	void *table;                    /* NULL: nothing cached */
};
#define VTD_WALK_INIT ((struct vtd_walk){ UINT64_MAX, NULL })
/* vtd_map and vtd_unmap with a walk cache (w may be NULL). */
int vtd_map_walk(struct vtd_domain *dom, uint64_t iova, uint64_t phys,
		 uint64_t len, unsigned int perm, struct vtd_walk *w);
int vtd_unmap_walk(struct vtd_domain *dom, uint64_t iova, uint64_t len,
		   struct vtd_gather *g, struct vtd_walk *w);
/* Software walk: 0 with *phys and *perm, or -ENOENT. */
int vtd_iova_to_phys(const struct vtd_domain *dom, uint64_t iova,
		     uint64_t *phys, unsigned int *perm);

/* ---------------------------------------------------------------------------
 * Invalidation
 */
/* The calling lcore's submit context on a unit (lcore_id from
 * rte_lcore_id(); a thread without an lcore id gets a shared, locked
 * slow-path context). */
struct vtd_qctx *vtd_qctx_get(struct vtd_unit *unit, unsigned int lcore_id);

#define VTD_INV_TABLES_FREED  1u  /* table pages were freed: IH=0 */
#define VTD_INV_MAP           2u  /* map side (not-present -> present) */
#define VTD_INV_FORCE_DSI     4u  /* force a domain-selective invalidation
                                   * (named so as not to clash with the
                                   * IOTLB granularity VTD_INV_DOMAIN of
                                   * vtd_hw.h) */

/* Appends the invalidations for [iova, iova+len) of dom on qctx's unit:
 * exact, naturally aligned page-selective blocks, or domain-selective when
 * the unit has no PSI, the blocks pass the threshold, or the range is the
 * whole space ([0, ~0) with len = 0 means everything); device-TLB
 * invalidations for ATS endpoints (not for VTD_INV_MAP). Nothing is sent
 * until vtd_qctx_submit. */
int vtd_inv_range(struct vtd_qctx *q, struct vtd_domain *dom, uint64_t iova,
		  uint64_t len, unsigned int flags);
/* Sends the batch with one wait descriptor; *seq is what to wait for.
 * An empty batch returns the last sequence number. */
int vtd_qctx_submit(struct vtd_qctx *q, uint32_t *seq);
/* Polls (bounded) until seq completed: 0, -EINVAL (a descriptor of this
 * batch was invalid), -ETIMEDOUT, -EIO (device-TLB timeout, resubmit). */
int vtd_qctx_wait(struct vtd_qctx *q, uint32_t seq);
/* Non-blocking: whether seq has completed. */
bool vtd_qctx_done(struct vtd_qctx *q, uint32_t seq);
/* submit + wait. */
int vtd_qctx_sync(struct vtd_qctx *q);

/* Threshold: page-selective descriptors per range above which a
 * domain-selective invalidation is used instead (default 16). */
int vtd_unit_set_psi_threshold(struct vtd_unit *unit, unsigned int n);

struct vtd_qi_stats {
	uint64_t submits;              /* batches */
	uint64_t descs;                /* descriptors, waits included */
	uint64_t waits;
	uint64_t iqt_writes;
	uint64_t psi, dsi, global;     /* IOTLB invalidations by granularity */
	uint64_t devtlb;
	uint64_t cc;
	uint64_t pasid;                /* PASID-based descriptors */
	uint64_t head_reads;           /* IQH read over MMIO (space ran out) */
	/* Contention on the one queue: publications that found the publish
	 * lock taken (another lcore publishing), and those of them that left
	 * their batch to its holder (it stayed past the hand-off bound). */
	uint64_t publish_waits, handoffs;
	uint64_t iqe, ite, ice, timeouts;
};
void vtd_qi_stats_get(const struct vtd_unit *unit, struct vtd_qi_stats *s);

#ifdef __cplusplus
}
#endif

#endif /* VTD_H */
