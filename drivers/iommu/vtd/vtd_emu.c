/* SPDX-License-Identifier: BSD-3-Clause
 * The emulated unit (lib/vtdemu) as a driver window, and the resolver that
 * lets it read this process's DPDK memory as "physical" memory.
 *
 * The emulator resolves every table entry it reads, so the resolver is on
 * its hot path and must not call rte_mem_iova2virt (a walk of every
 * memseg). Memory that is not DPDK's resolves to NULL (the emulator then
 * records a fault instead of reading it).
 *
 *   VA mode: the IOVA is the address. The memseg lists (a snapshot of their
 *     VA ranges taken once) say whether it is DPDK memory; the segment's
 *     bit in the list's fbarray says whether it is allocated now.
 *   PA mode: a table of the allocated segments sorted by IOVA, searched by
 *     bisection; a hit is checked against the segment itself (still used,
 *     same IOVA), so a freed or reallocated segment is never served stale;
 *     a miss rebuilds the table once (memory may have been added). Old
 *     tables are kept until the process ends: readers never lock.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_fbarray.h>
#include <rte_memory.h>

#include <vtdemu.h>

#include "vtd_tables.h"

struct seg_ref {
	uint64_t iova;
	uint64_t len;
	uint8_t *va;
	const struct rte_memseg_list *msl;
	int idx;
};

struct seg_table {
	struct seg_table *older;            /* kept, never freed */
	unsigned int n;
	uint64_t sig;                       /* of the segments it holds */
	struct seg_ref seg[];
};

struct msl_ref {
	uintptr_t start, end;
	uint64_t page_sz;
	const struct rte_memseg_list *msl;
};

static struct {
	pthread_mutex_t lock;
	bool init;
	enum rte_iova_mode mode;
	unsigned int nr_msl;
	struct msl_ref msl[RTE_MAX_MEMSEG_LISTS];
	struct seg_table *table;            /* [A] PA mode */
} res = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int msl_snap(const struct rte_memseg_list *msl, void *arg)
{
	RTE_SET_USED(arg);
	if (res.nr_msl < RTE_MAX_MEMSEG_LISTS && msl->base_va && msl->len) {
		struct msl_ref *r = &res.msl[res.nr_msl++];

		r->start = (uintptr_t)msl->base_va;
		r->end = r->start + msl->len;
		r->page_sz = msl->page_sz;
		r->msl = msl;
	}
	return 0;
}

struct seg_count {
	unsigned int n, max;
	uint64_t sig;
	struct seg_table *t;
};

static int seg_add(const struct rte_memseg_list *msl,
		   const struct rte_memseg *ms, void *arg)
{
	struct seg_count *c = arg;

	c->sig = c->sig * 31 + (ms->iova ^ (uintptr_t)ms->addr) + ms->len;
	if (c->t && c->n < c->max) {
		struct seg_ref *s = &c->t->seg[c->n];

		s->iova = ms->iova;
		s->len = ms->len;
		s->va = ms->addr;
		s->msl = msl;
		s->idx = rte_fbarray_find_idx(&msl->memseg_arr, ms);
	}
	c->n++;
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg_ref *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/* Rebuilds the PA-mode table; res.lock held. */
static void seg_rebuild_locked(void)
{
	struct seg_count c = { 0, 0, 0, NULL };
	struct seg_table *t;

	rte_memseg_walk(seg_add, &c);
	/* A miss on memory that is not DPDK's must not grow the list of
	 * tables: rebuild only when the segments changed. */
	if (res.table && res.table->n == c.n && res.table->sig == c.sig)
		return;
	c.max = c.n + 64;
	t = malloc(sizeof(*t) + c.max * sizeof(t->seg[0]));
	if (t == NULL)
		return;
	c.n = 0;
	c.sig = 0;
	c.t = t;
	rte_memseg_walk(seg_add, &c);
	t->n = RTE_MIN(c.n, c.max);
	t->sig = c.sig;
	qsort(t->seg, t->n, sizeof(t->seg[0]), seg_cmp);
	t->older = res.table;
	__atomic_store_n(&res.table, t, __ATOMIC_RELEASE);
}

static void resolver_init(void)
{
	pthread_mutex_lock(&res.lock);
	if (!res.init) {
		res.mode = rte_eal_iova_mode();
		rte_memseg_list_walk(msl_snap, NULL);
		if (res.mode == RTE_IOVA_PA)
			seg_rebuild_locked();
		__atomic_store_n(&res.init, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&res.lock);
}

static bool seg_live(const struct rte_memseg_list *msl, int idx,
		     uint64_t iova)
{
	const struct rte_memseg *ms;

	if (idx < 0 || rte_fbarray_is_used(
			(struct rte_fbarray *)(uintptr_t)&msl->memseg_arr,
			(unsigned int)idx) != 1)
		return false;
	ms = rte_fbarray_get(&msl->memseg_arr, (unsigned int)idx);
	return ms != NULL && ms->iova == iova;
}

static void *resolve_va(uint64_t addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr;

	for (unsigned int i = 0; i < res.nr_msl; i++) {
		const struct msl_ref *r = &res.msl[i];
		unsigned int idx;

		if (a < r->start || a + len > r->end)
			continue;
		idx = (unsigned int)((a - r->start) / r->page_sz);
		/* The segment holding addr must be allocated now; the range
		 * never crosses a 4 KiB boundary, segments are >= 4 KiB. */
		if (rte_fbarray_is_used((struct rte_fbarray *)(uintptr_t)
					&r->msl->memseg_arr, idx) != 1)
			return NULL;
		return (void *)a;
	}
	return NULL;
}

static const struct seg_ref *seg_find(const struct seg_table *t,
				      uint64_t addr)
{
	unsigned int lo = 0, hi = t ? t->n : 0;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		const struct seg_ref *s = &t->seg[mid];

		if (addr < s->iova)
			hi = mid;
		else if (addr >= s->iova + s->len)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

static void *resolve_pa(uint64_t addr, size_t len)
{
	for (int pass = 0; pass < 2; pass++) {
		const struct seg_table *t =
			__atomic_load_n(&res.table, __ATOMIC_ACQUIRE);
		const struct seg_ref *s = seg_find(t, addr);

		if (s && addr + len <= s->iova + s->len &&
		    seg_live(s->msl, s->idx, s->iova))
			return s->va + (addr - s->iova);
		if (pass == 0) {
			pthread_mutex_lock(&res.lock);
			if (__atomic_load_n(&res.table, __ATOMIC_RELAXED) == t)
				seg_rebuild_locked();
			pthread_mutex_unlock(&res.lock);
		}
	}
	return NULL;
}

void *vtd_emu_resolve(void *opaque, uint64_t addr, size_t len)
{
	RTE_SET_USED(opaque);
	if (unlikely(!__atomic_load_n(&res.init, __ATOMIC_ACQUIRE)))
		resolver_init();
	if (len == 0 || addr + len < addr)
		return NULL;
	if (res.mode == RTE_IOVA_PA)
		return resolve_pa(addr, len);
	return resolve_va(addr, len);
}

int vtd_emu_open(const struct vtdemu_config *cfg,
		 const struct vtd_unit_params *p, struct vtd_unit **out,
		 struct vtdemu **emu_out)
{
	struct vtd_unit_params up;
	struct vtdemu_config c;
	struct vtdemu *emu;
	char err[160] = "";
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (emu_out)
		*emu_out = NULL;
	if (p == NULL)
		vtd_unit_params_init(&up);
	else
		up = *p;
	if (cfg == NULL)
		vtdemu_config_init(&c);
	else
		c = *cfg;
	resolver_init();
	c.resolve = vtd_emu_resolve;
	c.resolve_opaque = NULL;
	emu = vtdemu_create(&c, err, sizeof(err));
	if (emu == NULL) {
		rte_log(RTE_LOG_ERR, vtd_logtype, "vtd %s: emulated unit: %s\n",
			up.name ? up.name : "-", err);
		return -EINVAL;
	}
	up.win.base = vtdemu_regs(emu);
	up.win.size = vtdemu_regs_size(emu);
	up.win.write_hook = vtdemu_reg_write_hook;
	up.win.hook_opaque = emu;
	up.real_hw = false;
	rc = vtd_unit_open(&up, out);
	if (rc) {
		vtdemu_destroy(emu);
		return rc;
	}
	(*out)->emu = emu;
	(*out)->owns_emu = true;
	if (emu_out)
		*emu_out = emu;
	return 0;
}

void vtd_emu_release(struct vtd_unit *u)
{
	if (u->owns_emu && u->emu) {
		vtdemu_destroy(u->emu);
		u->emu = NULL;
		u->owns_emu = false;
	}
}
