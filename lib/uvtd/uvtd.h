/* SPDX-License-Identifier: BSD-3-Clause
 * uvtd: the device-independent DMA map/unmap service (public API).
 *
 * Model:
 *   unit     an IOMMU remapping unit the service opened at uvtd_init()
 *            (an emulated one, or a real one from the firmware's table).
 *   device   a requester behind a unit, opened by PCI address (the unit
 *            serving it comes from the firmware's scopes) or, on an
 *            emulated unit, by requester id.
 *   domain   an IOVA space with a flush policy; devices attached to it may
 *            reach exactly what is mapped in it.
 *   lcore    every EAL lcore has a private context per domain (IOVA
 *            magazines, the lazy flush queue, its invalidation batch), so
 *            the fast path (map/unmap) takes no lock. A non-EAL thread calls
 *            uvtd_thread_register() first.
 *
 * Call order:
 *   rte_eal_init -> uvtd_init(args) -> uvtd_dev_open_*() ->
 *   uvtd_domain_create() -> uvtd_attach() -> uvtd_map*() / uvtd_unmap*() ->
 *   uvtd_detach() -> uvtd_domain_destroy() -> uvtd_fini().
 *
 * Thread safety:
 *   - map/unmap/burst/flush/poll: any registered lcore, concurrently, on any
 *     domain; an IOVA mapped on one lcore may be unmapped on another.
 *   - everything else is slow path and serializes on one mutex. A domain
 *     must not be destroyed, and a device must not be attached to a domain
 *     on a unit the domain does not use yet, while its fast path runs.
 *
 * Errors: negative errno and one log line (log type uvtd.svc) saying what
 * was wrong. A rejected call changes nothing; rejections are counted
 * (uvtd_stats_get(), telemetry /uvtd/stats).
 *   -EINVAL   zero or unaligned (4 KiB) length or address, bad permission,
 *             a partial unmap (below), a fixed IOVA inside uvtd's window
 *   -ERANGE   the range overflows 2^64 or passes the domain's address width
 *   -EEXIST   overlaps a live mapping
 *   -ENOENT   unmapping what is not mapped
 *   -ENODEV   a wrong or closed domain or device
 *   -ENOMEM   IOVA space (or memory) exhausted
 *   -EPERM    the calling thread is not an EAL lcore nor registered
 *   -EBUSY    destroy with devices attached; policy change with mappings
 *
 * Partial unmap: an unmap names exactly one mapping as it was made, its
 * IOVA and its length. A range that lies inside a live mapping (or starts
 * at one) but is not exactly it is a partial unmap: -EINVAL, nothing
 * changed. A range whose first page belongs to no live mapping: -ENOENT.
 * (VFIO type1 refuses to bisect a mapping the same way; it keeps the
 * mapping record O(1) and lets an IOVA block go back to the allocator
 * whole.)
 */
#ifndef UVTD_H
#define UVTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UVTD_PAGE_SIZE      4096ull
#define UVTD_MAX_UNITS      8
#define UVTD_MAX_DOMAINS    64
#define UVTD_MAX_DEVICES    256

#define UVTD_PERM_READ      1u
#define UVTD_PERM_WRITE     2u
#define UVTD_PERM_RW        (UVTD_PERM_READ | UVTD_PERM_WRITE)

/* ---------------------------------------------------------------------------
 * Start-up and shutdown
 */

/*
 * Starts the service after rte_eal_init(). args is a kvargs string
 * (key=value pairs separated by commas; a key may repeat):
 *
 *   emu=<preset>           open an emulated unit of that preset (repeatable;
 *                          presets: vtdemu_preset_name(), e.g. qemu-cm-on)
 *   emu=<cap>:<ecap>       an emulated unit with explicit CAP/ECAP (hex)
 *   dmar=<path>|sys        the real units of a DMAR table (sys: the
 *                          firmware's); only inside a guest given to uvtd
 *   dmar_emu=<preset>      with dmar=: emulate the table's units instead
 *                          (device lookup and RMRR maps without hardware)
 *   emu_mode=inline|threaded   how emulated units process their queue
 *   policy=strict|batched|lazy|auto   default policy of new domains (auto)
 *   qi_size=<n>            hardware queue entries per unit (power of 2; 256)
 *   lazy_entries=<n>       lazy flush queue size per lcore (256, Linux's)
 *   lazy_timeout_us=<n>    lazy staleness bound (10000: 10 ms, Linux's)
 *   iova_size=<bytes>      default IOVA window per domain (4 GiB)
 *   guard=0|1              default: a guard page after each allocation
 *   psi_threshold=<n>      page-selective descriptors per range before a
 *                          domain-selective one is used (16)
 *   driver=<name>          driver back end (vtd; tests register others)
 *   sysfs=<dir>            sysfs root for DMAR scope matching (/sys)
 *   force=0|1              real units: take a unit that looks in use
 *                          (translation, its queue or interrupt remapping
 *                          on) all the same (0). Not needed for a unit an
 *                          earlier uvtd closed: it is left on uvtd's
 *                          blocking root table and is taken over as is.
 *
 * With no unit key, one emulated unit of the default preset (server) is
 * opened. Returns 0, -EINVAL (bad argument, logged), -EALREADY, or the
 * error of opening a unit (everything opened so far is closed again).
 */
int uvtd_init(const char *args);

/* Closes every domain, device and unit. Mappings still live are unmapped
 * and flushed. Returns 0 or the first error seen. */
int uvtd_fini(void);

/* A non-EAL thread: rte_thread_register() and the service's per-lcore
 * contexts. 0 or a negative errno. */
int uvtd_thread_register(void);
void uvtd_thread_unregister(void);

/* ---------------------------------------------------------------------------
 * Units and devices
 */

struct uvtd_unit_info {
	char name[32];
	bool emulated;
	bool caching_mode;      /* a virtualized unit: invalidations cost exits */
	bool rwbf;              /* needs write-buffer flushes on map */
	bool psi;               /* page-selective invalidation */
	bool queued;            /* queued invalidation */
	unsigned int max_width; /* widest address width, bits */
	uint32_t qi_entries;
};
unsigned int uvtd_unit_count(void);
int uvtd_unit_info_get(unsigned int unit, struct uvtd_unit_info *info);

/* A DMA fault a unit recorded: a device reached for what it was not given
 * (or its tables were not there). */
#define UVTD_NO_PASID UINT32_MAX
struct uvtd_fault {
	unsigned int unit;
	uint8_t reason;         /* the unit's fault reason code (VT-d:
	                         * Appendix A, e.g. 5 write / 6 read denied) */
	const char *reason_str; /* its name (static; never NULL) */
	uint16_t rid;           /* requester id: bus << 8 | devfn */
	uint32_t pasid;         /* UVTD_NO_PASID: the request had none */
	uint64_t addr;          /* the page it faulted at */
	bool write;             /* a write (else a read) */
};
/* Reads and clears up to max of the unit's pending fault records into
 * out[], oldest first; they also go to the log /uvtd/faults reports.
 * Returns how many (0: none pending), -EINVAL (out NULL or max 0), -ENODEV
 * (no such open unit), -ENOTSUP (the driver records none). Slow path. */
int uvtd_faults_drain(unsigned int unit, struct uvtd_fault *out,
		      unsigned int max);

/* A device by PCI address ("SSSS:BB:DD.F" or "BB:DD.F"), from the DMAR
 * scopes of a dmar= start-up. Returns a device id >= 0. */
int uvtd_dev_open_pci(const char *pci_addr);
/* A device on an emulated unit, by requester id (bus << 8 | devfn). */
int uvtd_dev_open_rid(unsigned int unit, uint16_t rid);
/* -EBUSY while attached. */
int uvtd_dev_close(int dev);
/* The unit serving a device, or a negative errno. */
int uvtd_dev_unit(int dev);

/* ---------------------------------------------------------------------------
 * Domains
 */

enum uvtd_policy {
	UVTD_POLICY_DEFAULT = 0, /* the uvtd_init() policy= value */
	UVTD_POLICY_STRICT,   /* unmap returns after its invalidation completed */
	UVTD_POLICY_BATCHED,  /* a burst of unmaps completes under one wait */
	UVTD_POLICY_LAZY,     /* bounded staleness: the lcore's flush queue */
	UVTD_POLICY_AUTO,     /* chosen from the unit: see docs/service.md */
};
const char *uvtd_policy_name(enum uvtd_policy p);

/* The largest lazy queue and lazy bound, here and in uvtd_init()'s
 * lazy_entries= and lazy_timeout_us= (a minute). */
#define UVTD_LAZY_ENTRIES_MAX (1u << 16)
#define UVTD_LAZY_TIMEOUT_US_MAX ((uint64_t)60 * 1000 * 1000)

struct uvtd_domain_conf {
	enum uvtd_policy policy;
	unsigned int unit;        /* the unit whose capabilities shape it */
	unsigned int addr_width;  /* 0: the widest the unit allows */
	/* uvtd's IOVA window: [iova_base, iova_base + iova_size). Fixed-IOVA
	 * maps must lie outside it. iova_size 0: the uvtd_init() default;
	 * iova_base 0: the top of the address width. UINT64_MAX size: none. */
	uint64_t iova_base;
	uint64_t iova_size;
	int guard;                /* -1: the default; 0 or 1 */
	uint32_t lazy_entries;    /* 0: the default; <= UVTD_LAZY_ENTRIES_MAX */
	uint64_t lazy_timeout_us; /* 0: the default;
				   * <= UVTD_LAZY_TIMEOUT_US_MAX */
	/* Lazy flushes always domain-selective, with no per-page range
	 * tracked, whatever the unit (Linux's flush queue). For benchmarks
	 * that compare it with the cost model's choice (app/vtd-perf); auto
	 * and lazy choose by the cost model when this is false. */
	bool lazy_dsi;
};
void uvtd_domain_conf_init(struct uvtd_domain_conf *conf);

/* Returns a domain id >= 0. */
int uvtd_domain_create(const struct uvtd_domain_conf *conf);
/* Mappings still live are unmapped first. -EBUSY with devices attached. */
int uvtd_domain_destroy(int dom);
/* 0 (uvtd_domain_policy then gives the policy in force, auto resolved);
 * -EBUSY with mappings or with lazy entries an lcore has not recycled yet
 * (docs/service.md, Policies: flush, then let each lcore that unmapped call
 * uvtd_poll). */
int uvtd_domain_set_policy(int dom, enum uvtd_policy p);
/* The policy in force (an enum uvtd_policy), or -ENODEV. */
int uvtd_domain_policy(int dom);

/* Attaches dev; identity-maps the device's RMRR ranges (fixed maps). */
int uvtd_attach(int dom, int dev);
int uvtd_detach(int dom, int dev);

/* ---------------------------------------------------------------------------
 * Map and unmap
 */

/* Slow-path forms (out of line). */
int uvtd_map_va(int dom, const void *va, uint64_t len, unsigned int perm,
		uint64_t *iova);

struct uvtd_map_req {
	uint64_t phys;
	uint64_t len;
	unsigned int perm;
	uint64_t iova;            /* out: the IOVA uvtd chose */
};
struct uvtd_unmap_req {
	uint64_t iova;
	uint64_t len;
};
/* A burst completes under one wait (when the policy and unit need one).
 * Every request is validated before anything changes: all n done (n
 * returned), or none (a negative errno; the first bad request logged). */
int uvtd_map_burst(int dom, struct uvtd_map_req *reqs, unsigned int n);
int uvtd_unmap_burst(int dom, const struct uvtd_unmap_req *reqs,
		     unsigned int n);

/* Makes every pending lazy invalidation of dom complete (all lcores'
 * entries: one domain-selective invalidation on each unit), and recycles
 * the calling lcore's IOVAs it covered. */
int uvtd_flush(int dom);
/* Lets the calling lcore enforce its lazy time bound and recycle IOVAs
 * whose invalidation completed; call it from an idle loop. Lazy unmaps
 * check the bound against a clock read every 8th entry only, so an lcore
 * that unmaps rarely needs this (or the service below) for the bound to
 * hold on time. Returns the number of entries recycled. */
int uvtd_poll(void);
/* Registers an rte_service component ("uvtd_poll") that runs uvtd_poll(),
 * and sets its component runstate: map it to a service lcore (or run it
 * with rte_service_run_iter_on_app_lcore) so that the lazy bound holds even
 * when every application lcore is idle. Once per process; *id receives the
 * service id. 0 or a negative errno. */
int uvtd_service_register(uint32_t *id);

#include "uvtd_core.h"

/* Maps [phys, phys + len) at an IOVA uvtd chooses (*iova). */
static inline int
uvtd_map(int dom, uint64_t phys, uint64_t len, unsigned int perm,
	 uint64_t *iova)
{
	const struct uvtd_fp_domain *fp;

	if (unlikely((unsigned int)dom >= UVTD_MAX_DOMAINS))
		return uvtd_fp_bad_domain(dom, "map");
	fp = &uvtd_fp_domains[dom];
	return fp->map(fp->priv, phys, len, perm, iova);
}

/* Maps [phys, phys + len) at iova, a caller-owned IOVA outside uvtd's
 * window. */
static inline int
uvtd_map_fixed(int dom, uint64_t iova, uint64_t phys, uint64_t len,
	       unsigned int perm)
{
	const struct uvtd_fp_domain *fp;

	if (unlikely((unsigned int)dom >= UVTD_MAX_DOMAINS))
		return uvtd_fp_bad_domain(dom, "map_fixed");
	fp = &uvtd_fp_domains[dom];
	return fp->map_fixed(fp->priv, iova, phys, len, perm);
}

/* Unmaps one mapping, exactly as it was made (see "Partial unmap"). */
static inline int
uvtd_unmap(int dom, uint64_t iova, uint64_t len)
{
	const struct uvtd_fp_domain *fp;

	if (unlikely((unsigned int)dom >= UVTD_MAX_DOMAINS))
		return uvtd_fp_bad_domain(dom, "unmap");
	fp = &uvtd_fp_domains[dom];
	return fp->unmap(fp->priv, iova, len);
}

/* ---------------------------------------------------------------------------
 * Statistics (also served over telemetry: /uvtd/stats)
 */

/* Wait-latency histogram: bucket i counts waits of about [64 << i,
 * 64 << (i + 1)) ns (power-of-two boundaries in TSC cycles). */
#define UVTD_WAIT_HIST_BUCKETS 16

struct uvtd_stats {
	uint64_t maps, unmaps;
	uint64_t map_bytes, unmap_bytes;
	uint64_t rejected;             /* every rejected call */
	uint64_t rejected_by[8];       /* by errno class, see uvtd_reject_name */
	uint64_t waits;                /* waits the service did */
	uint64_t wait_hist[UVTD_WAIT_HIST_BUCKETS];
	uint64_t inv_ranges_psi;       /* ranges sent page-selectively */
	uint64_t inv_ranges_dsi;       /* domain-selective requests */
	uint64_t lazy_queued, lazy_flush_full, lazy_flush_timer,
		 lazy_flush_explicit;
	/* Lazy entries turned into per-page invalidation ranges at a flush
	 * (0 when every lazy flush is domain-selective). */
	uint64_t lazy_ranges_tracked;
	uint64_t iova_hits, iova_misses;  /* magazine hits, depot visits */
	uint64_t iova_global_allocs;      /* carved from the global space */
	/* From the units (summed): descriptors by kind, IQT writes... */
	uint64_t submits, descs, unit_waits, iqt_writes, psi, dsi, global,
		 devtlb, cc, head_reads, iqe, ite, ice, timeouts;
};
int uvtd_stats_get(struct uvtd_stats *s);
const char *uvtd_reject_name(unsigned int i);

/* Per-domain view (telemetry /uvtd/domain,<id>). */
struct uvtd_domain_info {
	enum uvtd_policy policy;       /* resolved */
	bool map_flush;                /* maps need a flush on this domain */
	bool lazy_ranges;              /* lazy keeps per-page ranges (PSI) */
	unsigned int unit, addr_width, ndevices, nunits;
	uint64_t iova_base, iova_size;
	uint64_t mappings;             /* live */
	uint64_t mapped_bytes;
	uint64_t lazy_pending;         /* entries in the lcores' queues, not
					* yet recycled (invalidated or not) */
	uint64_t flush_started, flush_finished;
	double iova_hit_rate;
	uint64_t iova_global_allocs;
	double iova_fragmentation;     /* internal: 1 - mapped/reserved */
	/* The region for allocations larger than the size classes: its
	 * free bytes and its largest free extent (external fragmentation:
	 * the second well under the first). */
	uint64_t iova_large_free_bytes, iova_large_largest_free;
};
int uvtd_domain_info_get(int dom, struct uvtd_domain_info *info);

/* Test hook: a domain whose unmaps skip their invalidation (the planted
 * policy bug the test suite must catch). Never use it otherwise. */
int uvtd_debug_skip_unmap_invalidation(int dom, bool skip);

#ifdef __cplusplus
}
#endif

#endif /* UVTD_H */
