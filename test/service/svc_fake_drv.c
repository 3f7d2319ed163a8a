/* SPDX-License-Identifier: BSD-3-Clause
 * The "fake" driver back end: see svc_fake_drv.h. One mutex serializes it
 * all; it is a correctness double, not a fast one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "uvtd_driver.h"
#include "svc_fake_drv.h"

#define PG 4096ull
#define HBITS 16
#define HSIZE (1u << HBITS)
#define MAXDOM 64
#define MAXATT 64

struct pte {
	uint64_t page, phys;
	unsigned int perm;
	bool dirty;              /* unmapped, invalidation pending */
	bool present;
	struct pte *next;
};

struct tlbe {
	uint64_t page, phys;
	struct tlbe *next;
};

struct uvtd_drv_domain {
	bool used;
	struct pte *pt[HSIZE];
	struct tlbe *tlb[HSIZE];
	bool map_flush;
};

struct uvtd_drv_unit {
	struct uvtd_unit_caps caps;
	uint64_t qctx_seq;
};

struct pend {
	struct uvtd_drv_domain *d;
	uint64_t iova, len;
	unsigned int flags;
};

struct uvtd_drv_qctx {
	struct pend batch[4096];
	unsigned int n;
	uint32_t seq;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct uvtd_drv_domain doms[MAXDOM];
static struct uvtd_drv_unit units[8];
static unsigned int nunits;
static struct uvtd_drv_qctx *qctx[8][128 + 1];
static struct { uint16_t rid; struct uvtd_drv_domain *d; } att[MAXATT];
static struct fake_counters cnt;

static unsigned int h(uint64_t page)
{
	return (unsigned int)((page * 0x9E3779B97F4A7C15ull) >> (64 - HBITS));
}

static struct pte *pte_find(struct uvtd_drv_domain *d, uint64_t page)
{
	for (struct pte *p = d->pt[h(page)]; p; p = p->next)
		if (p->page == page)
			return p;
	return NULL;
}

static int f_unit_open(const struct uvtd_unit_spec *s,
		       struct uvtd_drv_unit **out)
{
	struct uvtd_drv_unit *u;

	if (s->kind != UVTD_UNIT_EMU_PRESET || nunits >= 8)
		return -EINVAL;
	pthread_mutex_lock(&mu);
	u = &units[nunits++];
	memset(u, 0, sizeof(*u));
	u->caps.emulated = true;
	u->caps.psi = true;
	u->caps.queued = true;
	u->caps.max_psi_order = 18;
	u->caps.max_width = 48;
	u->caps.widths_mask = 3;
	u->caps.qi_entries = 256;
	u->caps.domain_ids = 256;
	if (strcmp(s->preset, "fake-cm") == 0)
		u->caps.caching_mode = true;
	else if (strcmp(s->preset, "fake-rwbf") == 0)
		u->caps.rwbf = true;
	else if (strcmp(s->preset, "fake-nopsi") == 0)
		u->caps.psi = false;
	else if (strcmp(s->preset, "fake") != 0) {
		nunits--;
		pthread_mutex_unlock(&mu);
		return -EINVAL;
	}
	pthread_mutex_unlock(&mu);
	*out = u;
	return 0;
}

static int f_unit_close(struct uvtd_drv_unit *u)
{
	unsigned int i = (unsigned int)(u - units);

	pthread_mutex_lock(&mu);
	for (unsigned int l = 0; l <= 128; l++) {
		free(qctx[i][l]);
		qctx[i][l] = NULL;
	}
	if (i + 1 == nunits)
		nunits--;
	pthread_mutex_unlock(&mu);
	return 0;
}

static int f_unit_caps(struct uvtd_drv_unit *u, struct uvtd_unit_caps *c)
{
	*c = u->caps;
	return 0;
}

static void f_unit_describe(struct uvtd_drv_unit *u, uvtd_kv_fn fn, void *arg)
{
	fn(arg, "fake_cm", u->caps.caching_mode);
}

static void f_unit_stats(struct uvtd_drv_unit *u, struct uvtd_drv_stats *s)
{
	(void)u;
	pthread_mutex_lock(&mu);
	s->psi = cnt.psi;
	s->dsi = cnt.dsi;
	s->submits = cnt.submits;
	s->waits = cnt.waits;
	pthread_mutex_unlock(&mu);
}

static void free_domain(struct uvtd_drv_domain *d)
{
	for (unsigned int i = 0; i < HSIZE; i++) {
		while (d->pt[i]) {
			struct pte *p = d->pt[i];

			d->pt[i] = p->next;
			free(p);
		}
		while (d->tlb[i]) {
			struct tlbe *t = d->tlb[i];

			d->tlb[i] = t->next;
			free(t);
		}
	}
}

static int f_domain_create(struct uvtd_drv_unit *u, unsigned int width,
			   struct uvtd_drv_domain **out, bool *map_flush)
{
	(void)width;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAXDOM; i++)
		if (!doms[i].used) {
			memset(&doms[i], 0, sizeof(doms[i]));
			doms[i].used = true;
			doms[i].map_flush = u->caps.caching_mode || u->caps.rwbf;
			*map_flush = doms[i].map_flush;
			*out = &doms[i];
			pthread_mutex_unlock(&mu);
			return 0;
		}
	pthread_mutex_unlock(&mu);
	return -ENOSPC;
}

static int f_domain_destroy(struct uvtd_drv_domain *d)
{
	pthread_mutex_lock(&mu);
	for (unsigned int i = 0; i < HSIZE; i++)
		for (struct pte *p = d->pt[i]; p; p = p->next)
			if (p->dirty)
				cnt.dirty_now--;
	free_domain(d);
	d->used = false;
	pthread_mutex_unlock(&mu);
	return 0;
}

static int f_attach(struct uvtd_drv_domain *d, struct uvtd_drv_unit *u,
		    uint16_t rid)
{
	(void)u;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAXATT; i++)
		if (att[i].d == NULL) {
			att[i].rid = rid;
			att[i].d = d;
			pthread_mutex_unlock(&mu);
			return 0;
		}
	pthread_mutex_unlock(&mu);
	return -ENOSPC;
}

static int f_detach(struct uvtd_drv_domain *d, struct uvtd_drv_unit *u,
		    uint16_t rid)
{
	(void)u;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAXATT; i++)
		if (att[i].d == d && att[i].rid == rid)
			att[i].d = NULL;
	pthread_mutex_unlock(&mu);
	return 0;
}

static int f_map(struct uvtd_drv_domain *d, uint64_t iova, uint64_t phys,
		 uint64_t len, unsigned int perm)
{
	pthread_mutex_lock(&mu);
	for (uint64_t o = 0; o < len; o += PG) {
		struct pte *p = pte_find(d, (iova + o) / PG);

		if (p && p->present) {
			pthread_mutex_unlock(&mu);
			return -EEXIST;
		}
	}
	for (uint64_t o = 0; o < len; o += PG) {
		uint64_t page = (iova + o) / PG;
		struct pte *p = pte_find(d, page);

		if (p == NULL) {
			p = calloc(1, sizeof(*p));
			p->page = page;
			p->next = d->pt[h(page)];
			d->pt[h(page)] = p;
		}
		if (p->dirty) {
			cnt.reuse_dirty++;
			cnt.dirty_now--;
			p->dirty = false;
		}
		p->present = true;
		p->phys = phys + o;
		p->perm = perm;
	}
	cnt.maps++;
	pthread_mutex_unlock(&mu);
	return 0;
}

static int f_unmap(struct uvtd_drv_domain *d, uint64_t iova, uint64_t len,
		   struct uvtd_drv_gather *g)
{
	pthread_mutex_lock(&mu);
	for (uint64_t o = 0; o < len; o += PG) {
		struct pte *p = pte_find(d, (iova + o) / PG);

		if (p == NULL || !p->present) {
			pthread_mutex_unlock(&mu);
			return -ENOENT;
		}
	}
	for (uint64_t o = 0; o < len; o += PG) {
		struct pte *p = pte_find(d, (iova + o) / PG);

		p->present = false;
		if (!p->dirty)
			cnt.dirty_now++;
		p->dirty = true;
	}
	g->start = iova;
	g->end = iova + len;
	cnt.unmaps++;
	pthread_mutex_unlock(&mu);
	return 0;
}

static void f_gather_release(struct uvtd_drv_domain *d,
			     struct uvtd_drv_gather *g)
{
	(void)d;
	(void)g;
}

static struct uvtd_drv_qctx *f_qctx_get(struct uvtd_drv_unit *u,
					unsigned int lcore)
{
	unsigned int i = (unsigned int)(u - units);
	unsigned int l = lcore > 128 ? 128 : lcore;

	pthread_mutex_lock(&mu);
	if (qctx[i][l] == NULL)
		qctx[i][l] = calloc(1, sizeof(struct uvtd_drv_qctx));
	pthread_mutex_unlock(&mu);
	return qctx[i][l];
}

static int f_inv_range(struct uvtd_drv_qctx *q, struct uvtd_drv_domain *d,
		       uint64_t iova, uint64_t len, unsigned int flags)
{
	if (q->n >= 4096)
		return -ENOSPC;
	q->batch[q->n++] = (struct pend){ d, iova, len, flags };
	return 0;
}

static void clean(struct uvtd_drv_domain *d, uint64_t page)
{
	struct pte *p = pte_find(d, page);
	struct tlbe **pp = &d->tlb[h(page)];

	if (p && p->dirty) {
		p->dirty = false;
		cnt.dirty_now--;
	}
	while (*pp) {
		if ((*pp)->page == page) {
			struct tlbe *t = *pp;

			*pp = t->next;
			free(t);
		} else {
			pp = &(*pp)->next;
		}
	}
}

static int f_submit(struct uvtd_drv_qctx *q, uint32_t *seq)
{
	pthread_mutex_lock(&mu);
	for (unsigned int i = 0; i < q->n; i++) {
		struct pend *p = &q->batch[i];
		bool all = (p->flags & UVTD_DRV_INV_DOMAIN) ||
			   (p->iova == 0 && p->len == 0);

		if (p->flags & UVTD_DRV_INV_MAP)
			cnt.map_inv++;
		else if (all)
			cnt.dsi++;
		else
			cnt.psi++;
		if (all) {
			for (unsigned int b = 0; b < HSIZE; b++) {
				for (struct pte *e = p->d->pt[b]; e; e = e->next)
					if (e->dirty) {
						e->dirty = false;
						cnt.dirty_now--;
					}
				while (p->d->tlb[b]) {
					struct tlbe *t = p->d->tlb[b];

					p->d->tlb[b] = t->next;
					free(t);
				}
			}
		} else {
			for (uint64_t o = 0; o < p->len; o += PG)
				clean(p->d, (p->iova + o) / PG);
		}
	}
	q->n = 0;
	cnt.submits++;
	*seq = ++q->seq;
	pthread_mutex_unlock(&mu);
	return 0;
}

static int f_wait(struct uvtd_drv_qctx *q, uint32_t seq)
{
	(void)q;
	(void)seq;
	pthread_mutex_lock(&mu);
	cnt.waits++;
	pthread_mutex_unlock(&mu);
	return 0;
}

static bool f_done(struct uvtd_drv_qctx *q, uint32_t seq)
{
	return (int32_t)(q->seq - seq) >= 0;
}

static const struct uvtd_driver_ops fake_ops = {
	.name = "fake",
	.unit_open = f_unit_open,
	.unit_close = f_unit_close,
	.unit_caps = f_unit_caps,
	.unit_describe = f_unit_describe,
	.unit_stats = f_unit_stats,
	.domain_create = f_domain_create,
	.domain_destroy = f_domain_destroy,
	.attach = f_attach,
	.detach = f_detach,
	.map = f_map,
	.unmap = f_unmap,
	.gather_release = f_gather_release,
	.qctx_get = f_qctx_get,
	.inv_range = f_inv_range,
	.submit = f_submit,
	.wait = f_wait,
	.done = f_done,
};

void fake_drv_register(void)
{
	uvtd_driver_register(&fake_ops);
}

void fake_counters_get(struct fake_counters *c)
{
	pthread_mutex_lock(&mu);
	*c = cnt;
	pthread_mutex_unlock(&mu);
}

void fake_counters_reset(void)
{
	pthread_mutex_lock(&mu);
	uint64_t dirty = cnt.dirty_now;

	memset(&cnt, 0, sizeof(cnt));
	cnt.dirty_now = dirty;
	pthread_mutex_unlock(&mu);
}

int fake_translate(uint16_t rid, uint64_t iova, uint64_t *pa)
{
	struct uvtd_drv_domain *d = NULL;
	uint64_t page = iova / PG;
	struct pte *p;
	int rc = -EFAULT;

	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAXATT; i++)
		if (att[i].d && att[i].rid == rid)
			d = att[i].d;
	if (d == NULL)
		goto out;
	p = pte_find(d, page);
	for (struct tlbe *t = d->tlb[h(page)]; t; t = t->next)
		if (t->page == page) {
			if (p == NULL || !p->present || p->phys != t->phys)
				cnt.stale++;
			*pa = t->phys + iova % PG;
			rc = 0;
			goto out;
		}
	if (p && p->present) {
		struct tlbe *t = calloc(1, sizeof(*t));

		t->page = page;
		t->phys = p->phys;
		t->next = d->tlb[h(page)];
		d->tlb[h(page)] = t;
		*pa = p->phys + iova % PG;
		rc = 0;
	}
out:
	pthread_mutex_unlock(&mu);
	return rc;
}
