/* SPDX-License-Identifier: BSD-3-Clause
 * Page tables: map, unmap, walk.
 *
 * Formats: second stage (§9.8: R 0, W 1, PS 7, SNP 11, no present bit: an
 * entry is present iff R|W; non-leaf entries carry R|W) and first stage
 * (§9.7, x86-64 paging: P 0, RW 1, US 2, A 5, D 6, PS 7; non-leaf entries
 * P|RW|US|A, leaves P|US|A and RW|D when writable, as Linux presets them).
 * Level 1 holds 4 KiB leaves; PS at level 2 is a 2 MiB leaf, at level 3 a
 * 1 GiB leaf (CAP.SLLPS for second stage, CAP.FL1GP for 1 GiB first stage;
 * 2 MiB first-stage leaves always exist).
 *
 * Concurrency (vtd.h: calls on disjoint ranges of one domain run at once):
 *   - a missing intermediate table is installed without a lock: the
 *     installer publishes its zeroed page in the parent's shadow slot
 *     (children[idx]) with a compare-and-swap; the loser gives its page
 *     back and uses the winner's. Both then compare-and-swap the parent
 *     entry from 0 to the (same) table entry, so whichever runs first
 *     makes it present and no caller returns before it is;
 *   - leaves are written with 64-bit atomic stores (release);
 *   - a table page is freed only by an unmap whose range covers the table's
 *     whole span (see vtd_tables.h): no other call may be inside it.
 *
 * A rejected call changes nothing: map checks that the whole range is free
 * (-EEXIST) and unmap that it is wholly mapped, with no superpage leaf cut
 * (-ENOENT, -EINVAL), before either writes an entry. Only map's -ENOMEM can
 * happen after a first write: the leaves it wrote are cleared again (the
 * empty tables it installed stay; they map nothing).
 */
#include <inttypes.h>
#include <string.h>

#include "vtd_tables.h"

#define LEAF_PS VTD_SL_PS /* bit 7 in both formats */

static inline uint64_t lvl_size(unsigned int l)
{
	return 1ull << VTD_LEVEL_SHIFT(l);
}

static inline unsigned int lvl_idx(uint64_t iova, unsigned int l)
{
	return (unsigned int)(iova >> VTD_LEVEL_SHIFT(l)) &
	       (VTD_PT_ENTRIES - 1);
}

static inline struct vtd_pt_page *child_load(const struct vtd_pt_page *pg,
					     unsigned int idx)
{
	return __atomic_load_n(&pg->children[idx], __ATOMIC_ACQUIRE);
}

/* The child table of entry idx of a directory page, or NULL with *e the
 * entry (empty or a superpage leaf). The shadow slot is published before
 * the entry (both release): an entry seen present and not a leaf means the
 * slot is set, even if it read NULL a moment ago (another lcore was
 * installing the table). */
static inline struct vtd_pt_page *child_or_entry(const struct vtd_domain *dom,
						 const struct vtd_pt_page *pg,
						 unsigned int idx, uint64_t *e)
{
	struct vtd_pt_page *c = child_load(pg, idx);

	if (likely(c != NULL))
		return c;
	*e = vtd_entry_load(&pg->va[idx]);
	if ((*e & dom->present) && !(*e & LEAF_PS))
		return child_load(pg, idx);
	return NULL;
}

static inline void flush_entries(const struct vtd_domain *dom,
				 const struct vtd_pt_page *pg,
				 unsigned int first, unsigned int last)
{
	if (dom->clflush && first <= last)
		vtd_flush_cache_range(dom->unit, &pg->va[first],
				      (size_t)(last - first + 1) * 8);
}

/* ---------------------------------------------------------------------------
 * Set-up and tear-down
 */
int vtd_pgtable_init(struct vtd_domain *dom)
{
	uint64_t snp = dom->snoop ? VTD_SL_SNP : 0;

	if (dom->kind == VTD_DOMAIN_FIRST_STAGE) {
		dom->present = VTD_FL_P;
		dom->table_bits = VTD_FL_P | VTD_FL_RW | VTD_FL_US | VTD_FL_A;
		dom->leaf_bits[VTD_PERM_READ] = VTD_FL_P | VTD_FL_US | VTD_FL_A;
		/* No write-only first-stage leaf exists: vtd_map refuses it. */
		dom->leaf_bits[VTD_PERM_WRITE] = 0;
		dom->leaf_bits[VTD_PERM_READ | VTD_PERM_WRITE] =
			VTD_FL_P | VTD_FL_US | VTD_FL_A | VTD_FL_RW | VTD_FL_D;
	} else {
		dom->present = VTD_SL_R | VTD_SL_W;
		dom->table_bits = VTD_SL_R | VTD_SL_W;
		dom->leaf_bits[VTD_PERM_READ] = VTD_SL_R | snp;
		dom->leaf_bits[VTD_PERM_WRITE] = VTD_SL_W | snp;
		dom->leaf_bits[VTD_PERM_READ | VTD_PERM_WRITE] =
			VTD_SL_R | VTD_SL_W | snp;
	}
	dom->root = vtd_pt_page_get(dom->pool, dom->levels > 1);
	if (dom->root == NULL)
		return -ENOMEM;
	dom->root->level = (uint8_t)dom->levels;
	vtd_flush_cache_range(dom->unit, dom->root->va, 4096);
	return 0;
}

static void pt_free_all(struct vtd_domain *dom, struct vtd_pt_page *pg)
{
	if (pg->level > 1) {
		for (unsigned int i = 0; i < VTD_PT_ENTRIES; i++) {
			struct vtd_pt_page *c = pg->children[i];

			if (c) {
				pt_free_all(dom, c);
				pg->children[i] = NULL;
			}
		}
	}
	memset(pg->va, 0, 4096);
	vtd_pt_page_put(dom->pool, pg);
}

void vtd_pgtable_fini(struct vtd_domain *dom)
{
	if (dom->root) {
		pt_free_all(dom, dom->root);
		dom->root = NULL;
	}
}

/* ---------------------------------------------------------------------------
 * Lock-free install of an intermediate table.
 */
static struct vtd_pt_page *pt_child(struct vtd_domain *dom,
				    struct vtd_pt_page *pg, unsigned int idx,
				    int *err)
{
	struct vtd_pt_page *c, *n;
	uint64_t want, old, e = 0;

	c = child_or_entry(dom, pg, idx, &e);
	if (likely(c != NULL))
		return c;
	if (e & dom->present) {
		*err = -EEXIST;         /* a superpage leaf is in the way */
		return NULL;
	}
	n = vtd_pt_page_get(dom->pool, pg->level - 1 > 1);
	if (n == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	n->level = (uint8_t)(pg->level - 1);
	/* The new table must read as empty before anything points at it. */
	vtd_flush_cache_range(dom->unit, n->va, dom->clflush ? 4096 : 0);
	c = NULL;
	if (__atomic_compare_exchange_n(&pg->children[idx], &c, n, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		c = n;
	} else {
		vtd_pt_page_put(dom->pool, n);  /* lost the race */
	}
	want = c->iova | dom->table_bits;
	old = 0;
	if (!__atomic_compare_exchange_n(&pg->va[idx], &old, want, false,
					 __ATOMIC_RELEASE, __ATOMIC_RELAXED) &&
	    old != want) {
		VTD_LOG(ERR, dom->unit, "table entry %u at level %u changed "
			"under a map (0x%" PRIx64 "): overlapping calls?", idx,
			pg->level, old);
		*err = -EEXIST;
		return NULL;
	}
	if (dom->clflush)
		vtd_flush_cache_range(dom->unit, &pg->va[idx], 8);
	return c;
}

/* ---------------------------------------------------------------------------
 * Map
 */
static int check_free(const struct vtd_domain *dom,
		      const struct vtd_pt_page *pg, uint64_t iova, uint64_t end)
{
	unsigned int l = pg->level;
	uint64_t sz = lvl_size(l);

	for (uint64_t a = iova; a < end;) {
		uint64_t slot_end = (a & ~(sz - 1)) + sz;
		uint64_t e_end = RTE_MIN(end, slot_end);
		unsigned int idx = lvl_idx(a, l);
		uint64_t e = 0;
		const struct vtd_pt_page *c;

		if (l > 1)
			c = child_or_entry(dom, pg, idx, &e);
		else
			c = NULL, e = vtd_entry_load(&pg->va[idx]);
		if (c) {
			int rc = check_free(dom, c, a, e_end);

			if (rc)
				return rc;
		} else if (e & dom->present) {
			return -EEXIST;
		}
		a = e_end;
	}
	return 0;
}

/* Installs leaves for [iova, end) below pg; phys = iova + delta. *done
 * advances past every leaf written (for the roll-back). */
static int map_range(struct vtd_domain *dom, struct vtd_pt_page *pg,
		     uint64_t iova, uint64_t end, uint64_t delta,
		     uint64_t leaf, uint64_t *done)
{
	unsigned int l = pg->level;
	uint64_t sz = lvl_size(l);
	unsigned int first = VTD_PT_ENTRIES, last = 0;
	int rc = 0;

	for (uint64_t a = iova; a < end;) {
		uint64_t slot = a & ~(sz - 1);
		uint64_t e_end = RTE_MIN(end, slot + sz);
		unsigned int idx = lvl_idx(a, l);

		if (l == 1 ||
		    (l <= dom->max_leaf_level && a == slot &&
		     e_end == slot + sz && ((a + delta) & (sz - 1)) == 0 &&
		     child_load(pg, idx) == NULL &&
		     vtd_entry_load(&pg->va[idx]) == 0)) {
			vtd_entry_store(&pg->va[idx], leaf | (a + delta) |
					(l > 1 ? LEAF_PS : 0));
			first = RTE_MIN(first, idx);
			last = idx;
			*done = e_end;
		} else {
			struct vtd_pt_page *c = pt_child(dom, pg, idx, &rc);

			if (c == NULL)
				break;
			rc = map_range(dom, c, a, e_end, delta, leaf, done);
			if (rc)
				break;
		}
		a = e_end;
	}
	flush_entries(dom, pg, first, last);
	return rc;
}

static void clear_range(struct vtd_domain *dom, struct vtd_pt_page *pg,
			uint64_t iova, uint64_t end, struct vtd_gather *g);

/* The span a last-level table maps: what a level-2 entry covers (2 MiB). */
#define VTD_WALK_SHIFT VTD_LEVEL_SHIFT(2)

/* The last-level table of iova from w, or NULL (see struct vtd_walk). */
static inline struct vtd_pt_page *walk_hit(const struct vtd_walk *w,
					   uint64_t iova)
{
	return w && w->span == iova >> VTD_WALK_SHIFT ?
		(struct vtd_pt_page *)w->table : NULL;
}

static inline void walk_keep(struct vtd_walk *w, uint64_t iova,
			     struct vtd_pt_page *pg)
{
	if (w) {
		w->span = iova >> VTD_WALK_SHIFT;
		w->table = pg;
	}
}

static inline void walk_forget(struct vtd_walk *w)
{
	if (w)
		*w = VTD_WALK_INIT;
}

static int map_one(struct vtd_domain *dom, uint64_t iova, uint64_t phys,
		   uint64_t leaf, struct vtd_walk *w)
{
	struct vtd_pt_page *pg = walk_hit(w, iova);
	uint64_t *slot;
	int err = 0;

	if (pg == NULL) {
		pg = dom->root;
		for (unsigned int l = dom->levels; l > 1; l--) {
			pg = pt_child(dom, pg, lvl_idx(iova, l), &err);
			if (unlikely(pg == NULL))
				return err;
		}
		walk_keep(w, iova, pg);
	}
	slot = &pg->va[lvl_idx(iova, 1)];
	if (unlikely(vtd_entry_load(slot) & dom->present))
		return -EEXIST;
	vtd_entry_store(slot, leaf | phys);
	if (dom->clflush)
		vtd_flush_cache_range(dom->unit, slot, 8);
	return 0;
}

static const char *perm_str(unsigned int perm)
{
	static const char *const s[] = { "none", "r", "w", "rw" };

	return s[perm & 3];
}

int vtd_map(struct vtd_domain *dom, uint64_t iova, uint64_t phys,
	    uint64_t len, unsigned int perm)
{
	return vtd_map_walk(dom, iova, phys, len, perm, NULL);
}

int vtd_map_walk(struct vtd_domain *dom, uint64_t iova, uint64_t phys,
		 uint64_t len, unsigned int perm, struct vtd_walk *w)
{
	uint64_t leaf, done;
	int rc;

	if (unlikely(dom == NULL)) {
		VTD_LOG(ERR, (struct vtd_unit *)NULL, "map: NULL domain");
		return -EINVAL;
	}
	if (unlikely(dom->root == NULL)) {
		VTD_LOG(ERR, dom->unit, "map: a pass-through domain has no "
			"page table");
		return -EINVAL;
	}
	if (unlikely(perm == 0 || (perm & ~(VTD_PERM_READ | VTD_PERM_WRITE)) ||
		     dom->leaf_bits[perm] == 0)) {
		VTD_LOG(ERR, dom->unit, "map: permissions 0x%x (%s) not "
			"possible%s", perm, perm_str(perm),
			dom->kind == VTD_DOMAIN_FIRST_STAGE ?
			": first-stage entries cannot deny reads" : "");
		return -EINVAL;
	}
	if (unlikely(((iova | phys | len) & (VTD_PAGE_SIZE - 1)) || len == 0)) {
		VTD_LOG(ERR, dom->unit, "map: iova 0x%" PRIx64 " phys 0x%"
			PRIx64 " len 0x%" PRIx64 ": need non-empty 4 KiB "
			"aligned values", iova, phys, len);
		return -EINVAL;
	}
	if (unlikely(iova + len < iova || iova + len > (1ull << dom->width))) {
		VTD_LOG(ERR, dom->unit, "map: [0x%" PRIx64 ", +0x%" PRIx64
			") is outside the domain's %u-bit space", iova, len,
			dom->width);
		return -EINVAL;
	}
	if (unlikely(phys + len < phys || phys + len > dom->phys_limit)) {
		VTD_LOG(ERR, dom->unit, "map: phys [0x%" PRIx64 ", +0x%" PRIx64
			") beyond the unit's %u-bit host address width", phys,
			len, dom->unit->haw);
		return -EINVAL;
	}
	leaf = dom->leaf_bits[perm];
	if (len == VTD_PAGE_SIZE) {
		rc = map_one(dom, iova, phys, leaf, w);
		if (unlikely(rc))
			goto fail;
		return 0;
	}
	/* Larger maps walk on their own. They only install tables (a
	 * superpage goes only where no table is, and a failed map keeps its
	 * empty tables), so the cached table stays linked: the cache is
	 * kept. */
	rc = check_free(dom, dom->root, iova, iova + len);
	if (unlikely(rc))
		goto fail;
	done = iova;
	rc = map_range(dom, dom->root, iova, iova + len, phys - iova, leaf,
		       &done);
	if (unlikely(rc)) {
		/* Only -ENOMEM (or a caller racing on this range): take back
		 * the leaves written so far, keep the empty tables. */
		if (done > iova)
			clear_range(dom, dom->root, iova, done, NULL);
		goto fail;
	}
	return 0;
fail:
	walk_forget(w);
	if (rc == -EEXIST)
		VTD_LOG(ERR, dom->unit, "map: [0x%" PRIx64 ", +0x%" PRIx64
			") overlaps a live mapping", iova, len);
	else
		VTD_LOG(ERR, dom->unit, "map: [0x%" PRIx64 ", +0x%" PRIx64
			"): %s", iova, len, strerror(-rc));
	return rc;
}

/* ---------------------------------------------------------------------------
 * Unmap
 */
static int check_mapped(const struct vtd_domain *dom,
			const struct vtd_pt_page *pg, uint64_t iova,
			uint64_t end, uint64_t *where)
{
	unsigned int l = pg->level;
	uint64_t sz = lvl_size(l);

	for (uint64_t a = iova; a < end;) {
		uint64_t slot = a & ~(sz - 1);
		uint64_t e_end = RTE_MIN(end, slot + sz);
		unsigned int idx = lvl_idx(a, l);
		uint64_t e = 0;
		const struct vtd_pt_page *c;

		if (l > 1)
			c = child_or_entry(dom, pg, idx, &e);
		else
			c = NULL, e = vtd_entry_load(&pg->va[idx]);
		if (c) {
			int rc = check_mapped(dom, c, a, e_end, where);

			if (rc)
				return rc;
		} else {
			*where = a;
			if (!(e & dom->present))
				return -ENOENT;
			if (l > 1 && (a != slot || e_end != slot + sz))
				return -EINVAL;  /* would cut a superpage */
		}
		a = e_end;
	}
	return 0;
}

/* Clears every leaf in [iova, end) below pg; with g, also frees the tables
 * whose whole span is in the range (onto g's list). */
static void clear_range(struct vtd_domain *dom, struct vtd_pt_page *pg,
			uint64_t iova, uint64_t end, struct vtd_gather *g)
{
	unsigned int l = pg->level;
	uint64_t sz = lvl_size(l);
	unsigned int first = VTD_PT_ENTRIES, last = 0;

	for (uint64_t a = iova; a < end;) {
		uint64_t slot = a & ~(sz - 1);
		uint64_t e_end = RTE_MIN(end, slot + sz);
		unsigned int idx = lvl_idx(a, l);
		uint64_t e = 0;
		struct vtd_pt_page *c = l > 1 ? child_or_entry(dom, pg, idx, &e)
					      : NULL;

		if (c) {
			clear_range(dom, c, a, e_end, g);
			if (g && a == slot && e_end == slot + sz) {
				/* The whole table went: unlink it; it is
				 * freed after the invalidation (IH=0). */
				RTE_ASSERT(vtd_pt_page_empty(c));
				vtd_entry_store(&pg->va[idx], 0);
				__atomic_store_n(&pg->children[idx], NULL,
						 __ATOMIC_RELEASE);
				c->next = g->freelist;
				g->freelist = c;
				g->nr_freed++;
				first = RTE_MIN(first, idx);
				last = idx;
			}
		} else if (vtd_entry_load(&pg->va[idx]) & dom->present) {
			vtd_entry_store(&pg->va[idx], 0);
			first = RTE_MIN(first, idx);
			last = idx;
		}
		a = e_end;
	}
	flush_entries(dom, pg, first, last);
}

static int unmap_one(struct vtd_domain *dom, uint64_t iova,
		     struct vtd_walk *w)
{
	struct vtd_pt_page *pg = walk_hit(w, iova);
	uint64_t *slot;

	if (pg == NULL) {
		pg = dom->root;
		for (unsigned int l = dom->levels; l > 1; l--) {
			unsigned int idx = lvl_idx(iova, l);
			uint64_t e = 0;
			struct vtd_pt_page *c = child_or_entry(dom, pg, idx,
							       &e);

			if (unlikely(c == NULL))
				return (e & dom->present) ? -EINVAL : -ENOENT;
			pg = c;
		}
		walk_keep(w, iova, pg);
	}
	slot = &pg->va[lvl_idx(iova, 1)];
	if (unlikely(!(vtd_entry_load(slot) & dom->present)))
		return -ENOENT;
	vtd_entry_store(slot, 0);
	if (dom->clflush)
		vtd_flush_cache_range(dom->unit, slot, 8);
	return 0;
}

int vtd_unmap(struct vtd_domain *dom, uint64_t iova, uint64_t len,
	      struct vtd_gather *g)
{
	return vtd_unmap_walk(dom, iova, len, g, NULL);
}

int vtd_unmap_walk(struct vtd_domain *dom, uint64_t iova, uint64_t len,
		   struct vtd_gather *g, struct vtd_walk *w)
{
	uint64_t where = iova;
	int rc;

	if (unlikely(dom == NULL || g == NULL)) {
		VTD_LOG(ERR, dom ? dom->unit : NULL, "unmap: NULL %s",
			dom ? "gather" : "domain");
		return -EINVAL;
	}
	if (unlikely(dom->root == NULL)) {
		VTD_LOG(ERR, dom->unit, "unmap: a pass-through domain has no "
			"page table");
		return -EINVAL;
	}
	if (unlikely(((iova | len) & (VTD_PAGE_SIZE - 1)) || len == 0 ||
		     iova + len < iova || iova + len > (1ull << dom->width))) {
		VTD_LOG(ERR, dom->unit, "unmap: [0x%" PRIx64 ", +0x%" PRIx64
			"): need a non-empty 4 KiB aligned range inside the "
			"domain's %u-bit space", iova, len, dom->width);
		return -EINVAL;
	}
	if (len == VTD_PAGE_SIZE) {
		rc = unmap_one(dom, iova, w);
	} else {
		/* clear_range frees a table only when the range covers its
		 * whole span, and the smallest span a freed table has is a
		 * last-level table's (2 MiB): a shorter unmap frees none, and
		 * the cached table stays linked. */
		if (len >= (1ull << VTD_WALK_SHIFT))
			walk_forget(w);
		rc = check_mapped(dom, dom->root, iova, iova + len, &where);
		if (rc == 0)
			clear_range(dom, dom->root, iova, iova + len, g);
	}
	if (unlikely(rc)) {
		walk_forget(w);
		if (rc == -EINVAL)
			VTD_LOG(ERR, dom->unit, "unmap: [0x%" PRIx64 ", +0x%"
				PRIx64 ") cuts the superpage at 0x%" PRIx64
				": unmap what was mapped", iova, len, where);
		else
			VTD_LOG(ERR, dom->unit, "unmap: [0x%" PRIx64 ", +0x%"
				PRIx64 "): 0x%" PRIx64 " is not mapped", iova,
				len, where);
		return rc;
	}
	if (iova < g->start)
		g->start = iova;
	if (iova + len > g->end)
		g->end = iova + len;
	return 0;
}

void vtd_gather_release(struct vtd_domain *dom, struct vtd_gather *g)
{
	struct vtd_pt_page *pg = g->freelist;

	while (pg) {
		struct vtd_pt_page *next = pg->next;

		vtd_pt_page_put(dom->pool, pg);
		pg = next;
	}
	g->start = UINT64_MAX;
	g->end = 0;
	g->freelist = NULL;
	g->nr_freed = 0;
}

/* ---------------------------------------------------------------------------
 * Walk
 */
int vtd_iova_to_phys(const struct vtd_domain *dom, uint64_t iova,
		     uint64_t *phys, unsigned int *perm)
{
	const struct vtd_pt_page *pg;

	if (dom == NULL || dom->root == NULL || iova >= (1ull << dom->width)) {
		VTD_LOG(ERR, dom ? dom->unit : NULL, "iova_to_phys: %s",
			dom == NULL ? "NULL domain" : dom->root == NULL ?
			"a pass-through domain has no page table" :
			"IOVA beyond the domain's width");
		return -EINVAL;
	}
	pg = dom->root;
	for (unsigned int l = dom->levels; l >= 1; l--) {
		unsigned int idx = lvl_idx(iova, l);
		uint64_t e = vtd_entry_load(&pg->va[idx]);

		if (!(e & dom->present))
			return -ENOENT;
		if (l == 1 || (e & LEAF_PS)) {
			uint64_t sz = lvl_size(l);
			unsigned int p;

			if (dom->kind == VTD_DOMAIN_FIRST_STAGE)
				p = VTD_PERM_READ |
				    ((e & VTD_FL_RW) ? VTD_PERM_WRITE : 0);
			else
				p = (unsigned int)(e & (VTD_SL_R | VTD_SL_W));
			if (phys)
				*phys = (e & VTD_SL_ADDR_MASK & ~(sz - 1)) |
					(iova & (sz - 1));
			if (perm)
				*perm = p;
			return 0;
		}
		pg = child_load(pg, idx);
		if (pg == NULL)
			return -ENOENT;
	}
	return -ENOENT;
}

static int verify_page(const struct vtd_domain *dom,
		       const struct vtd_pt_page *pg, uint64_t base,
		       uint64_t *leaves, uint64_t *tables)
{
	unsigned int l = pg->level;
	int rc = 0;

	for (unsigned int i = 0; i < VTD_PT_ENTRIES; i++) {
		/* Atomic loads: entries are written with atomic stores by
		 * concurrent maps, and a verify may follow them. */
		uint64_t e = __atomic_load_n(&pg->va[i], __ATOMIC_ACQUIRE);
		const struct vtd_pt_page *c = l > 1 ?
			__atomic_load_n(&pg->children[i], __ATOMIC_ACQUIRE) : NULL;
		uint64_t a = base + (uint64_t)i * lvl_size(l);

		if (!(e & dom->present)) {
			if (e != 0 || c != NULL) {
				VTD_LOG(ERR, dom->unit,
					"verify: level %u entry "
					"%u (iova 0x%" PRIx64 ") not present "
					"but 0x%" PRIx64 " child %p",
					l, i, a, e, (const void *)c);
				rc = -EFAULT;
			}
			continue;
		}
		if (l == 1 || (e & LEAF_PS)) {
			(*leaves)++;
			if (c != NULL) {
				VTD_LOG(ERR, dom->unit, "verify: leaf at level "
					"%u iova 0x%" PRIx64 " has a child", l,
					a);
				rc = -EFAULT;
			}
			continue;
		}
		if (c == NULL || (e & VTD_SL_ADDR_MASK) != c->iova ||
		    c->level != l - 1) {
			VTD_LOG(ERR, dom->unit, "verify: level %u entry %u "
				"(iova 0x%" PRIx64 ") 0x%" PRIx64 " does not "
				"match its shadow %p", l, i, a, e,
				(const void *)c);
			rc = -EFAULT;
			continue;
		}
		(*tables)++;
		if (verify_page(dom, c, a, leaves, tables))
			rc = -EFAULT;
	}
	return rc;
}

int vtd_pgtable_verify(const struct vtd_domain *dom, uint64_t *leaves,
		       uint64_t *tables)
{
	uint64_t nl = 0, nt = 0;
	int rc;

	if (dom == NULL || dom->root == NULL)
		return -EINVAL;
	nt = 1;
	rc = verify_page(dom, dom->root, 0, &nl, &nt);
	if (leaves)
		*leaves = nl;
	if (tables)
		*tables = nt;
	return rc;
}
