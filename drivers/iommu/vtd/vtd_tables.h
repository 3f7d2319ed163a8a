/* SPDX-License-Identifier: BSD-3-Clause
 * Private glue of the unit and tables parts (vtd_unit.c, vtd_emu.c,
 * vtd_regs.c, vtd_mem.c, vtd_tables.c, vtd_domain.c, vtd_pgtable.c): the
 * table-page pool, the domain struct, the per-unit table state. The other
 * parts see domains only through vtd.h and vtd_internal.h.
 *
 * Table page memory (vtd_mem.c)
 *   Every page-table page is a 4 KiB page of DMA memory (what the unit
 *   walks) described by a struct vtd_pt_page in host memory. Directory
 *   pages (level >= 2) also carry a shadow array of 512 child pointers, so
 *   that walking down never turns an entry's IOVA back into a pointer: the
 *   fast path is "children[idx]", no memseg lookup, no hash.
 *   Pages come from a per-unit pool: chunks of 64 pages (rte_malloc, each
 *   page's IOVA taken once when the chunk is carved), a global free list
 *   under a spinlock, and per-lcore caches (like rte_mempool's), so that
 *   concurrent maps on several lcores allocate without a lock except on a
 *   cache miss. Invariant: a page in the pool is all zero, with no
 *   children; whoever puts a page back guarantees it (checked when
 *   RTE_ENABLE_ASSERT is on: vtd_pt_page_empty).
 *
 * Table life (vtd_pgtable.c)
 *   A table page is freed by vtd_unmap when the unmapped range covers the
 *   whole span of the table: it is then empty (unmap fails with -ENOENT on
 *   a hole), and since concurrent calls work on disjoint ranges no other
 *   thread can be walking into it. No per-page count of present entries is
 *   kept: nothing but a check would read it, and its atomic add on every
 *   map and unmap cost 8 % of the service's batched rate (docs/benchmarks.md,
 *   "Third pass"). A table
 *   left empty by piecewise unmaps stays installed and is reused by later
 *   maps (no table churn for map/unmap of one page, no IH=0 invalidation);
 *   vtd_domain_destroy releases it.
 */
#ifndef VTD_TABLES_H
#define VTD_TABLES_H

#include <pthread.h>

#include <rte_branch_prediction.h>

#include "vtd_internal.h"

/* ---------------------------------------------------------------------------
 * Table pages and their pool (vtd_mem.c).
 */
struct vtd_pt_page {
	uint64_t *va;                   /* the 4 KiB table the unit reads */
	uint64_t iova;                  /* what the parent entry holds */
	uint8_t level;                  /* 1: 4 KiB leaves ... 5 */
	uint8_t dir;                    /* has children[] (pool index) */
	/* [A] level >= 2: child table of each entry (NULL: none). Written
	 * before the entry that points to the child (release); cleared after
	 * it. */
	struct vtd_pt_page **children;
	struct vtd_pt_page *next;       /* free list, gather list */
	/* One cache line each: the pages of a chunk sit in one array, and a
	 * page's line is written when it goes to a free or gather list. At
	 * 48 bytes, two lcores' leaf tables shared a line (when pages kept
	 * an entry count, its locked add there was the hottest instruction
	 * of a 2-lcore run). */
} __rte_cache_aligned;

struct vtd_pt_pool;
int vtd_pt_pool_create(struct vtd_unit *u);
void vtd_pt_pool_destroy(struct vtd_unit *u);
/* A zeroed page; dir: with a children[] array (level >= 2). NULL when out
 * of memory. Lock-free on an lcore whose cache holds pages. */
struct vtd_pt_page *vtd_pt_page_get(struct vtd_pt_pool *p, bool dir);
/* Gives back a page that is all zero (entries, children). */
void vtd_pt_page_put(struct vtd_pt_pool *p, struct vtd_pt_page *pg);
/* Pages handed out and not returned, for tests and leak checks. */
uint64_t vtd_pt_pool_in_use(const struct vtd_pt_pool *p);
/* Whether [iova, iova+len) lies below the unit's host address width;
 * logs why not. */
bool vtd_iova_reachable(const struct vtd_unit *unit, uint64_t iova,
			size_t len);

/* ---------------------------------------------------------------------------
 * Domains (vtd_domain.c, vtd_pgtable.c).
 */
#define VTD_DOMAIN_MAX_ATTACH 64

struct vtd_domain {
	struct vtd_unit *unit;          /* [I] creator: caps, table memory */
	struct vtd_pt_pool *pool;       /* [I] the creator's page pool */
	enum vtd_domain_kind kind;      /* [I] */
	unsigned int width;             /* [I] iova < 2^width */
	unsigned int levels;            /* [I] 3, 4, 5 (0: pass-through) */
	unsigned int aw;                /* [I] AW field (context/PASID entry) */
	unsigned int max_leaf_level;    /* [I] 1, 2 (2 MiB) or 3 (1 GiB) */
	bool map_flush;                 /* [I] CM with second stage, or RWBF */
	bool clflush;                   /* [I] tables written for a unit
	                                 * whose walks do not snoop */
	bool snoop;                     /* [I] SNP leaves / PGSNP */
	uint64_t phys_limit;            /* [I] 2^haw of the creator */
	uint64_t present;               /* [I] R|W (second) or P (first) */
	uint64_t table_bits;            /* [I] bits of a non-leaf entry */
	uint64_t leaf_bits[4];          /* [I] by perm (R 1, W 2), level 1 */
	struct vtd_pt_page *root;       /* [I] NULL for pass-through */

	/* Attachments: written under att_lock, read lock-free with the
	 * sequence count att_seq (odd while a writer changes them). */
	uvtd_lock_t att_lock;
	uint32_t att_seq;               /* [A] */
	unsigned int nr_att;            /* [att_lock], readers via att_seq */
	struct vtd_domain_attach att[VTD_DOMAIN_MAX_ATTACH];
};

/* vtd_pgtable.c */
int vtd_pgtable_init(struct vtd_domain *dom);
void vtd_pgtable_fini(struct vtd_domain *dom);
/* Walks the whole table checking every shadow pointer against its entry
 * and that no leaf has a child. 0 or -EFAULT (logged);
 * *leaves and *tables receive the counts (NULL ok). Not concurrent with
 * map/unmap. */
int vtd_pgtable_verify(const struct vtd_domain *dom, uint64_t *leaves,
		       uint64_t *tables);

/* ---------------------------------------------------------------------------
 * Per-unit tables state (vtd_tables.c).
 */
int vtd_tables_init(struct vtd_unit *u);
/* Clears every root entry (so every device's DMA is blocked once the caches
 * are invalidated) and frees the context and PASID tables. keep_root: the
 * root table stays allocated because the unit keeps pointing at it. */
void vtd_tables_fini(struct vtd_unit *u, bool keep_root);

/* Serializes attach/detach on a unit (context and PASID tables, ids). */
void vtd_tables_lock(struct vtd_unit *u);
void vtd_tables_unlock(struct vtd_unit *u);

/* Domain ids (under the tables lock). */
int vtd_did_alloc(struct vtd_unit *u);
void vtd_did_free(struct vtd_unit *u, uint16_t did);

/* Requests without PASID use this PASID-table entry in scalable mode
 * (context entry RID_PASID), as Linux does (IOMMU_NO_PASID). */
#define VTD_RID_PASID 0u
/* PASIDs uvtd can attach: one PASID-directory page (PDTS = 2: 512 entries
 * of 64 PASIDs). */
#define VTD_PASID_DIR_PDTS 2u
#define VTD_PASID_LIMIT (1u << 15)

/* Context entry of sid: legacy (16 bytes) or scalable (32 bytes), as
 * uint64_t[2] / uint64_t[4]. create: allocate the bus's context table and
 * make its root entry present. NULL when absent, or out of memory. */
uint64_t *vtd_ctx_entry(struct vtd_unit *u, uint16_t sid, bool create);
/* PASID-table entry (8 qwords) of sid/pasid under the device's directory;
 * create: allocate the directory and the table. NULL when absent. */
uint64_t *vtd_pasid_entry(struct vtd_unit *u, uint16_t sid, uint32_t pasid,
			  bool create);
/* IOVA of the device's PASID directory (0 if none). */
uint64_t vtd_pasid_dir_iova(struct vtd_unit *u, uint16_t sid);
/* PASID entries in use on the device (scalable mode). */
unsigned int *vtd_dev_pasid_count(struct vtd_unit *u, uint16_t sid);
/* Frees the device's PASID directory and tables (none in use). */
void vtd_dev_release(struct vtd_unit *u, uint16_t sid);

/* Atomic 64-bit stores/loads of table entries (the unit reads them while
 * the CPU writes them; VT-d spec §6.2.x: 64-bit entries are read
 * atomically). */
static inline void vtd_entry_store(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline uint64_t vtd_entry_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* True when no entry of pg's table is non-zero and it has no child (a
 * debug check: 512 loads, 1024 for a directory page). */
static inline bool vtd_pt_page_empty(const struct vtd_pt_page *pg)
{
	for (unsigned int i = 0; i < VTD_PT_ENTRIES; i++) {
		if (__atomic_load_n(&pg->va[i], __ATOMIC_RELAXED) != 0)
			return false;
		if (pg->dir && pg->children &&
		    __atomic_load_n(&pg->children[i], __ATOMIC_RELAXED))
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------------------
 * Unit internals shared by the unit part's files.
 */
/* vtd_emu.c: destroys the emulator a unit owns (vtd_unit_close). */
void vtd_emu_release(struct vtd_unit *u);
/* vtd_regs.c: unmaps a /dev/mem window (vtd_unit_close). */
void vtd_regs_release(struct vtd_unit *u);
/* vtd_regs.c: 1 when /sys/class/iommu (sysfs_dir) lists a unit at base
 * (the kernel drives it), 0 when not, negative errno when unreadable. */
int vtd_kernel_owns_unit(const char *sysfs_dir, uint64_t base);
/* vtd_regs.c: the blocking root table of the real unit at base (a 2 MiB
 * hugetlbfs file that outlives the process, all 256 root entries not
 * present). find: 0 and its physical address when the file exists and its
 * table is all zero; -ENOENT (no file, no hugetlbfs), -EINVAL (not all
 * zero), another negative errno. prepare: creates it if needed (logged
 * when it cannot), zeroes and flushes the table, 0 and its physical
 * address below the unit's host address width. */
int vtd_blocking_root_find(uint64_t base, uint64_t *pa);
int vtd_blocking_root_prepare(struct vtd_unit *u, uint64_t *pa);
/* Register window bytes the driver needs: the IOTLB registers at ECAP.IRO
 * and the fault recording registers at CAP.FRO, at least one page. */
size_t vtd_regs_needed(uint64_t cap, uint64_t ecap);

#endif /* VTD_TABLES_H */
