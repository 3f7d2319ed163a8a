/* SPDX-License-Identifier: BSD-3-Clause
 * lib/vtdemu: a software Intel VT-d remapping unit.
 *
 * The embedded default unit of uvtd and the test double of its driver. It
 * encodes the VT-d specification on its own (it shares no code with
 * drivers/iommu/vtd) so that one cannot hide the other's mistake.
 *
 * Model:
 *   - A register window (vtdemu_regs()) that a driver reads with plain
 *     volatile loads. The emulator keeps it current. Writes must go through
 *     vtdemu_reg_write() (never a store into the page): a write has side
 *     effects a page of memory cannot express (GCMD one-shot commands, RW1C
 *     status bits, the IQT doorbell).
 *   - "Physical" memory is reached through a resolver callback: the driver's
 *     tables, the invalidation queue and the status words live in the caller's
 *     memory and the emulator reads and writes them through the pointer the
 *     resolver returns. An address that resolves to nothing is a fault to
 *     record (reason "address not accessible"), never a crash.
 *   - Caches (context, PASID, IOTLB, paging-structure, device TLBs, and under
 *     CAP.CM=1 not-present entries) that keep serving what they hold until an
 *     invalidation removes it, so a missing invalidation is observable.
 *   - A DMA engine that reads and writes through translation as a requester.
 *   - A stale-translation checker: every translation served from a cache is
 *     compared with a fresh walk of the tables; a difference is a stale use.
 *   - A cost model whose accumulated time is reported with the statistics.
 *   - Inline mode (an IQT write processes the queue inside the write call, as
 *     QEMU does inside a VM exit) or threaded mode (a hardware thread fetches
 *     asynchronously and applies the modelled latency).
 *
 * Thread safety: every function may be called from any thread at any time,
 * concurrently, except vtdemu_destroy().
 *
 * Errors: functions returning int return 0 (or a count) on success and a
 * negative errno on failure; those taking (char *err, size_t errlen) also
 * write a one-line reason there.
 */
#ifndef VTDEMU_H
#define VTDEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vtdemu;

/* ------------------------------------------------------------------------
 * Capabilities
 */

/* VER, CAP and ECAP register values (VT-d spec §11.4.1-§11.4.3). */
struct vtdemu_caps {
	uint32_t ver;
	uint64_t cap;
	uint64_t ecap;
};

/*
 * Presets:
 *   qemu-cm-on               QEMU 7.2 intel-iommu caching-mode=on (aw 39)
 *   qemu-cm-off              caching-mode=off
 *   qemu-cm-on-aw48          caching-mode=on,aw-bits=48
 *   qemu-cm-on-devtlb        caching-mode=on,device-iotlb=on
 *   qemu-cm-on-scalable      caching-mode=on,x-scalable-mode=on
 *   qemu-cm-on-scalable-pasid caching-mode=on,x-scalable-mode=on,x-pasid-mode=on
 *   qemu-aw48-snoop          caching-mode=off,aw-bits=48,snoop-control=on
 *   server                   modern server unit: scalable mode, first and
 *                            second stage, PASID, device TLB, PSI, several
 *                            fault records, coherent walks
 *   client                   older client unit: legacy only, no PSI,
 *                            non-coherent walks
 *   rwbf                     a unit that needs write-buffer flushing (RWBF=1)
 *   nd0                      a unit with ND=0 (16 domain ids)
 * (The QEMU values are those in shared/docs/facts.md, measured on QEMU 7.2.)
 */
int vtdemu_preset(const char *name, struct vtdemu_caps *caps);
/* i-th preset name and a one-line description; NULL past the last one. */
const char *vtdemu_preset_name(unsigned int i);
const char *vtdemu_preset_help(unsigned int i);

/*
 * Checks that a VER/CAP/ECAP combination is one the specification allows
 * (and that the emulator can model). Returns 0, or -EINVAL with a message
 * naming the field, e.g. "CAP.SAGAW: no supported width (0x0)".
 */
int vtdemu_caps_check(const struct vtdemu_caps *caps, char *err,
		      size_t errlen);

/* ------------------------------------------------------------------------
 * Configuration and life cycle
 */

/*
 * Returns a pointer to len bytes of "physical" memory at addr, or NULL when
 * that memory does not exist. The emulator never asks for a range crossing a
 * 4 KiB boundary. Must be thread-safe.
 */
typedef void *(*vtdemu_resolve_fn)(void *opaque, uint64_t addr, size_t len);

enum vtdemu_mode {
	VTDEMU_INLINE = 0, /* IQT write processes the queue inside the call */
	VTDEMU_THREADED,   /* a hardware thread fetches asynchronously */
};

/* Cache capacities, in entries. 0 means unbounded: never evict. A full
 * bounded cache evicts an entry chosen at random by a generator with a fixed
 * seed (runs are reproducible); a cache of fewer than 512 entries is exact
 * (one shard), a larger one is split into shards of equal capacity. */
struct vtdemu_cache_config {
	uint32_t context_entries; /* context entries (and SM context) */
	uint32_t pasid_entries;   /* PASID-table entries (scalable mode) */
	uint32_t iotlb_entries;   /* IOTLB, tagged by DID, PASID, page, size */
	uint32_t pwc_entries;     /* paging-structure (non-leaf) entries */
	uint32_t devtlb_entries;  /* per ATS endpoint */
	/* With CAP.CM=1 the unit may cache not-present and erroneous entries
	 * (VT-d spec §6.1). true (the default) models that, so a driver that
	 * skips the map-side flush under caching mode is caught. */
	bool cm_cache_not_present;
	/* Keep paging-structure caches (false: every walk starts at the root). */
	bool pwc_enabled;
};

/*
 * Modelled time, in nanoseconds, charged per operation and accumulated in
 * vtdemu_stats.modelled_ns. Under CAP.CM=1 an IOTLB invalidation also costs
 * shadow_ns_per_page for every page the hypervisor must re-walk: all present
 * pages of the domain for a global or domain-selective invalidation, 2^AM for
 * a page-selective one (QEMU syncs its shadow over the invalidated range).
 */
struct vtdemu_cost_model {
	uint32_t cc_ns;           /* context-cache invalidation, global */
	uint32_t iotlb_global_ns;
	uint32_t iotlb_domain_ns;
	uint32_t iotlb_page_ns;
	uint32_t devtlb_ns;
	uint32_t iec_ns;
	uint32_t wait_ns;
	uint32_t pasid_iotlb_ns;  /* PASID-based IOTLB, PASID-selective */
	uint32_t pasid_cache_ns;  /* PASID cache, domain-selective */
	uint32_t pasid_devtlb_ns;
	uint32_t iqt_write_ns;    /* an IQT write: a VM exit under a vIOMMU */
	uint32_t shadow_ns_per_page; /* CM=1 only */
	/* Threaded mode: latency applied before a fetched batch takes effect. */
	uint32_t threaded_latency_ns;
	/* The other granularities of the kinds above. */
	uint32_t cc_domain_ns;
	uint32_t cc_device_ns;
	uint32_t pasid_iotlb_page_ns;
	uint32_t pasid_cache_pasid_ns;
	uint32_t pasid_cache_global_ns;
};

struct vtdemu_config {
	struct vtdemu_caps caps;
	vtdemu_resolve_fn resolve;
	void *resolve_opaque;
	enum vtdemu_mode mode;
	struct vtdemu_cache_config cache;
	struct vtdemu_cost_model cost;
	bool check_stale;          /* run the stale-translation checker */
	uint32_t stale_log_max;    /* stale-use records kept (count is exact) */
};

/* Fills cfg with the defaults: preset "server", inline mode, unbounded
 * caches with not-present caching and paging-structure caches on, the
 * default cost model, stale checking on. resolve must still be set. */
void vtdemu_config_init(struct vtdemu_config *cfg);
void vtdemu_cost_default(struct vtdemu_cost_model *cost);

/* Creates a unit in its reset state (VT-d spec §10.4: registers at their
 * reset values, translation and QI disabled). NULL on error, with err set. */
struct vtdemu *vtdemu_create(const struct vtdemu_config *cfg, char *err,
			     size_t errlen);
/* Stops the hardware thread (threaded mode) and frees the unit. */
void vtdemu_destroy(struct vtdemu *emu);
const struct vtdemu_caps *vtdemu_get_caps(const struct vtdemu *emu);

/* ------------------------------------------------------------------------
 * Register window
 */

/* The register page(s): at least 4 KiB, large enough for the IOTLB registers
 * at ECAP.IRO and the CAP.NFR fault recording registers at CAP.FRO. */
volatile void *vtdemu_regs(struct vtdemu *emu);
size_t vtdemu_regs_size(const struct vtdemu *emu);

/* A register write of size 4 or 8 bytes at a naturally aligned offset
 * (writes to either half of a 64-bit register are allowed). Reserved bits
 * are ignored, read-only fields keep their value, RW1C bits clear on 1. */
void vtdemu_reg_write(struct vtdemu *emu, uint32_t offset, uint64_t value,
		      unsigned int size);
/* Same, with the signature the driver's register-window hook takes. */
void vtdemu_reg_write_hook(void *emu, uint32_t offset, uint64_t value,
			   unsigned int size);
/* A register read (equivalent to a volatile load from the window). */
uint64_t vtdemu_reg_read(struct vtdemu *emu, uint32_t offset,
			 unsigned int size);

/* Threaded mode: waits until the hardware thread has consumed the queue up
 * to the current IQT (or stopped on an error). Returns 0 or -ETIMEDOUT.
 * Inline mode: returns 0 at once. */
int vtdemu_quiesce(struct vtdemu *emu, uint64_t timeout_ns);

/* ------------------------------------------------------------------------
 * Endpoints and DMA
 */

#define VTDEMU_NO_PASID UINT32_MAX

/* Declares that endpoint sid implements ATS and has a device TLB. Its DMA
 * then consults its device TLB first and, on a miss, sends a translation
 * request to the unit (which may hit the IOTLB) and fills the device TLB;
 * only device-TLB invalidations remove its entries. The context entry must
 * allow translation requests (legacy TT=01b, scalable-mode DTE=1): otherwise
 * the request is blocked, fault 0xD (legacy) or 0x44 (scalable mode), as
 * real hardware blocks an ATS function behind such a context. -ENOTSUP
 * without ECAP.DT. Turning ATS off (or on again) empties the device TLB. */
int vtdemu_set_ats(struct vtdemu *emu, uint16_t sid, bool enabled);

enum vtdemu_access {
	VTDEMU_ACCESS_READ = 1,
	VTDEMU_ACCESS_WRITE = 2,
};

/* What the unit saw when a request faulted (the content of a fault record).
 * reason is the specification's fault reason code (VT-d spec Appendix A). */
struct vtdemu_fault_info {
	uint8_t reason;
	uint16_t sid;
	uint32_t pasid;     /* VTDEMU_NO_PASID when the request had none */
	uint64_t addr;      /* the faulting page address (bits 63:12) */
	unsigned int access; /* enum vtdemu_access of the request */
	bool recorded;      /* false when FPD suppressed it or records were full */
};

/* Translates one access of a requester. Returns 0 with *pa set, or -EFAULT
 * with *fault filled (when non-NULL) and the fault recorded in the fault
 * recording registers unless fault processing is disabled (FPD) for it.
 * -EINVAL (nothing reaches the unit) for a NULL unit, a PASID wider than 20
 * bits, or an access that is not READ and/or WRITE; the DMA calls below
 * also for a NULL buffer. */
int vtdemu_translate(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
		     uint64_t iova, unsigned int access, uint64_t *pa,
		     struct vtdemu_fault_info *fault);

/* DMA through translation, page by page. Returns the number of bytes moved
 * (len) or -EFAULT at the first faulting page (bytes before it were moved).
 * A page that translates to memory the resolver does not know also fails
 * with -EFAULT, with fault->reason 0 (not a remapping fault, not recorded). */
int64_t vtdemu_dma_read(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
			uint64_t iova, void *dst, size_t len,
			struct vtdemu_fault_info *fault);
int64_t vtdemu_dma_write(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
			 uint64_t iova, const void *src, size_t len,
			 struct vtdemu_fault_info *fault);

/* ------------------------------------------------------------------------
 * Caches (introspection, for tests)
 */

enum vtdemu_cache_kind {
	VTDEMU_CACHE_CONTEXT = 0,
	VTDEMU_CACHE_PASID,
	VTDEMU_CACHE_IOTLB,
	VTDEMU_CACHE_PWC,
	VTDEMU_CACHE_DEVTLB,
	VTDEMU_CACHE_NOTPRESENT, /* CM=1 cached not-present/fault results */
	VTDEMU_CACHE_KINDS
};
const char *vtdemu_cache_name(enum vtdemu_cache_kind kind);

/* Number of entries each cache holds now. */
void vtdemu_cache_occupancy(struct vtdemu *emu,
			    uint64_t count[VTDEMU_CACHE_KINDS]);

/* Whether a cache holds an entry that would serve this lookup.
 *   CONTEXT:    sid
 *   PASID:      sid, pasid
 *   IOTLB:      did, pasid (VTDEMU_NO_PASID for requests without), iova
 *   PWC:        did, pasid, iova, level (the level of the cached entry:
 *               2 = a PDE, which points to a table of 4 KiB leaves)
 *   DEVTLB:     sid, pasid, iova
 *   NOTPRESENT: sid, pasid, iova
 * PASID, IOTLB and PWC entries of scalable mode are tagged with the PASID
 * of the PASID-table entry used: the request's PASID, or the context's
 * RID_PASID for a request without PASID. In legacy mode the tag is
 * VTDEMU_NO_PASID. DEVTLB and NOTPRESENT use the request's PASID. */
struct vtdemu_cache_key {
	uint16_t sid;
	uint16_t did;
	uint32_t pasid;
	uint64_t iova;
	unsigned int level;
};
bool vtdemu_cache_holds(struct vtdemu *emu, enum vtdemu_cache_kind kind,
			const struct vtdemu_cache_key *key);
/* Drops every cached entry (as if the unit were reset; not a descriptor). */
void vtdemu_cache_flush_all(struct vtdemu *emu);

/* ------------------------------------------------------------------------
 * The stale-translation checker
 *
 * With cfg.check_stale, every translation served wholly or partly from a
 * cache (IOTLB, a walk started from a paging-structure entry, a cached
 * context or PASID entry, a device TLB, a cached not-present result) is
 * compared with a fresh walk of the tables in memory. It is a stale use
 * when the cache gave a translation and the walk faults, gives another
 * frame, or grants less than the cached translation (even if the access
 * made is within both); or when the cache gave a fault
 * and the walk grants the access (source NOTPRESENT under CAP.CM=1: the
 * missing map-side flush). Less permission than the walk is not counted
 * unless it denied the access (the IOTLB walks again rather than deny). A
 * comparison across a concurrent invalidation is inconclusive and not
 * counted (the translation was in flight).
 */

struct vtdemu_stale_record {
	uint16_t sid;
	uint32_t pasid;
	uint64_t iova;
	unsigned int access;
	enum vtdemu_cache_kind source; /* the cache the translation came from */
	/* What the cache served. */
	uint64_t cached_pa;
	unsigned int cached_perm;   /* enum vtdemu_access bits */
	bool cached_present;
	/* What a fresh walk gives. */
	uint64_t walk_pa;
	unsigned int walk_perm;
	uint8_t walk_fault;         /* 0 when the walk succeeds */
};

uint64_t vtdemu_stale_count(struct vtdemu *emu);
/* Copies up to max of the first records kept; returns how many. */
unsigned int vtdemu_stale_records(struct vtdemu *emu,
				  struct vtdemu_stale_record *out,
				  unsigned int max);
void vtdemu_stale_reset(struct vtdemu *emu);

/* ------------------------------------------------------------------------
 * Fault injection
 */

enum vtdemu_inject_kind {
	/* The nth descriptor fetched from now (0 = the next) is treated as
	 * invalid: IQE, IQH left at it. */
	VTDEMU_INJECT_BAD_DESC = 1,
	/* Device-TLB invalidations for requester sid time out: ITE with
	 * IQER.ITESID = sid. The waits fetched after the timed-out
	 * invalidation in the same run (up to the tail of that IQT write)
	 * are aborted: no status write, no IWC; the other descriptors of the
	 * run still take effect and IQH ends at that tail. Fetching stops
	 * until software clears ITE, and then resumes without an IQT write.
	 * count: how many times (0 = until cleared with
	 * vtdemu_inject_clear). */
	VTDEMU_INJECT_DEVTLB_TIMEOUT,
	/* The next device-TLB invalidation completes with an error: ICE with
	 * IQER.ICESID; the invalidation still takes effect and the queue
	 * goes on. */
	VTDEMU_INJECT_ICE,
	/* The queue stops being fetched for duration_ns (0 = until cleared).
	 * IQT writes are latched meanwhile; fetching resumes by itself at
	 * the end (inline mode too: a timer thread does it). */
	VTDEMU_INJECT_STALL,
	/* The nth wait descriptor from now completes without its status write
	 * (nor IWC); no error is reported and the queue goes on. */
	VTDEMU_INJECT_LOST_WAIT,
};

struct vtdemu_injection {
	enum vtdemu_inject_kind kind;
	uint32_t nth;
	uint32_t count;
	uint16_t sid;
	uint64_t duration_ns;
};

/* Each kind is independent; injecting a kind again replaces it. 0 or
 * -EINVAL. */
int vtdemu_inject(struct vtdemu *emu, const struct vtdemu_injection *inj);
void vtdemu_inject_clear(struct vtdemu *emu);

/* ------------------------------------------------------------------------
 * Statistics
 */

/* Descriptor (and register-based invalidation) kinds by granularity. */
enum vtdemu_desc_stat {
	VTDEMU_DS_CC_GLOBAL = 0,
	VTDEMU_DS_CC_DOMAIN,
	VTDEMU_DS_CC_DEVICE,
	VTDEMU_DS_IOTLB_GLOBAL,
	VTDEMU_DS_IOTLB_DOMAIN,
	VTDEMU_DS_IOTLB_PAGE,
	VTDEMU_DS_DEVTLB,
	VTDEMU_DS_IEC,
	VTDEMU_DS_WAIT,
	VTDEMU_DS_PIOTLB_PASID,
	VTDEMU_DS_PIOTLB_PAGE,
	VTDEMU_DS_PC_DOMAIN,
	VTDEMU_DS_PC_PASID,
	VTDEMU_DS_PC_GLOBAL,
	VTDEMU_DS_PDEVTLB,
	VTDEMU_DS_KINDS
};
const char *vtdemu_desc_stat_name(enum vtdemu_desc_stat kind);

struct vtdemu_stats {
	uint64_t desc[VTDEMU_DS_KINDS];  /* queued descriptors executed */
	uint64_t reg_inv[VTDEMU_DS_KINDS]; /* register-based invalidations */
	uint64_t iqt_writes;
	uint64_t waits;                  /* wait descriptors executed */
	uint64_t wait_status_writes;
	uint64_t invalid_descs;          /* IQE raised */
	uint64_t ite;                    /* ITE raised */
	uint64_t ice;                    /* ICE raised */
	uint64_t cache_hits[VTDEMU_CACHE_KINDS];
	uint64_t cache_misses[VTDEMU_CACHE_KINDS];
	uint64_t cache_evictions[VTDEMU_CACHE_KINDS];
	uint64_t cache_invalidated[VTDEMU_CACHE_KINDS]; /* entries dropped */
	uint64_t translations;
	uint64_t walks;                  /* full or partial table walks */
	uint64_t walk_reads;             /* table entries read by walks */
	uint64_t faults[256];            /* by fault reason */
	uint64_t faults_recorded;
	uint64_t faults_overflow;        /* lost because every record was full */
	uint64_t stale_uses;
	uint64_t shadow_pages;           /* CM=1: pages the hypervisor re-walked */
	uint64_t modelled_ns;            /* total modelled time */
	uint64_t modelled_shadow_ns;     /* of which hypervisor shadowing */
	/* Front-end details. */
	uint64_t wbf;                    /* write-buffer flushes (CAP.RWBF=1) */
	uint64_t wbf_ignored;            /* GCMD.WBF written with CAP.RWBF=0 */
	uint64_t reg_inv_refused;        /* CCMD/IOTLB command while QI is on */
	uint64_t waits_aborted;          /* waits dropped by ITE (no write) */
	uint64_t waits_lost;             /* waits dropped by LOST_WAIT */
	uint64_t desc_coarsened;         /* performed at a coarser granularity
					  * (PSI without CAP.PSI, PASID-IOTLB
					  * AM > MAMV); desc[] counts what was
					  * performed */
	uint64_t psi_unaligned;          /* page-selective address not aligned
					  * to 2^AM pages (low bits ignored) */
	uint64_t qi_batches;             /* fetch runs (one per IQT write in
					  * inline mode) */
	uint64_t qemu72_unsafe_waits;    /* valid waits QEMU 7.2 would not
					  * take: SW and IF together (it
					  * aborts) or neither (IQE) */
};

void vtdemu_stats_get(struct vtdemu *emu, struct vtdemu_stats *stats);
void vtdemu_stats_reset(struct vtdemu *emu);

/* A decoded dump of the registers (VER/CAP/ECAP fields, GSTS, FSTS, the
 * queue registers, fault records) and the statistics. */
void vtdemu_dump(struct vtdemu *emu, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* VTDEMU_H */
