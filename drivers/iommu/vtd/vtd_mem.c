/* SPDX-License-Identifier: BSD-3-Clause
 * DMA memory: what the unit reads and writes (tables, the queue, status
 * words), from DPDK memory with its IOVA (the physical address on real
 * hardware, VT-d needs nothing else: §3.x "host physical").
 *
 *   - up to 4 KiB: rte_malloc aligned to the next power of two of the size,
 *     so the block never crosses a 4 KiB boundary and is IOVA-contiguous
 *     whatever the page size behind it;
 *   - larger (the queue, up to 512 KiB): an IOVA-contiguous memzone;
 *   - page-table pages: a pool (see vtd_tables.h) of 4 KiB pages carved
 *     from 64-page chunks, with per-lcore caches.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_memzone.h>
#if defined(RTE_ARCH_X86)
#include <cpuid.h>
#include <emmintrin.h>
#endif

#include "vtd_tables.h"

static uint32_t vtd_mz_seq; /* [A] unique memzone names */

int vtd_dma_alloc(struct vtd_unit *unit, size_t size, size_t align,
		  struct vtd_dma_mem *mem)
{
	int socket = unit ? unit->socket_id : SOCKET_ID_ANY;

	memset(mem, 0, sizeof(*mem));
	if (size == 0 || (align & (align - 1)) != 0)
		return -EINVAL;
	if (align < RTE_CACHE_LINE_SIZE)
		align = RTE_CACHE_LINE_SIZE;

	if (size <= 4096 && align <= 4096) {
		size_t a = RTE_MAX(align, (size_t)rte_align64pow2(size));

		mem->va = rte_zmalloc_socket("vtd_dma", size, a, socket);
		if (mem->va == NULL)
			goto nomem;
		mem->iova = rte_malloc_virt2iova(mem->va);
	} else {
		char name[RTE_MEMZONE_NAMESIZE];
		const struct rte_memzone *mz;

		snprintf(name, sizeof(name), "uvtd_dma_%u",
			 __atomic_fetch_add(&vtd_mz_seq, 1, __ATOMIC_RELAXED));
		mz = rte_memzone_reserve_aligned(name, size, socket,
						 RTE_MEMZONE_IOVA_CONTIG,
						 RTE_MAX(align, (size_t)4096));
		if (mz == NULL)
			goto nomem;
		memset(mz->addr, 0, size);
		mem->va = mz->addr;
		mem->iova = mz->iova;
		mem->cookie = mz;
	}
	if (mem->iova == RTE_BAD_IOVA) {
		VTD_LOG(ERR, unit, "DMA memory at %p has no IOVA", mem->va);
		vtd_dma_free(unit, mem);
		return -EFAULT;
	}
	if (unit && !vtd_iova_reachable(unit, mem->iova, size)) {
		vtd_dma_free(unit, mem);
		return -ERANGE;
	}
	mem->size = size;
	return 0;
nomem:
	VTD_LOG(ERR, unit, "no DMA memory for %zu bytes (align %zu, socket "
		"%d)", size, align, socket);
	return -ENOMEM;
}

void vtd_dma_free(struct vtd_unit *unit, struct vtd_dma_mem *mem)
{
	RTE_SET_USED(unit);
	if (mem->va == NULL)
		return;
	if (mem->cookie)
		rte_memzone_free(mem->cookie);
	else
		rte_free(mem->va);
	memset(mem, 0, sizeof(*mem));
}

bool vtd_iova_reachable(const struct vtd_unit *unit, uint64_t iova,
			size_t len)
{
	if (iova + len <= (1ull << unit->haw) && iova + len >= iova)
		return true;
	VTD_LOG(ERR, unit, "DMA memory at IOVA 0x%" PRIx64 " (+%zu) is above "
		"the unit's %u-bit host address width: %s", iova, len,
		unit->haw, rte_eal_iova_mode() == RTE_IOVA_VA ?
		"with IOVA as VA, keep DPDK's memory low (e.g. "
		"--base-virtaddr=0x10000000)" : "the unit cannot reach it");
	return false;
}

uint64_t vtd_virt2iova(const void *va)
{
	return rte_mem_virt2iova(va);
}

#if defined(RTE_ARCH_X86)
/* CLFLUSHOPT where the CPU has it: weakly ordered, so several lines are in
 * flight at once; ordered with older writes to the same line (Intel SDM
 * vol. 2A), which are the table writes being flushed. */
static int vtd_has_clflushopt = -1;

static inline void clflushopt_line(const void *p)
{
	asm volatile("clflushopt %0" : "+m"(*(volatile char *)(uintptr_t)p));
}
#endif

void vtd_flush_cache_range(const struct vtd_unit *unit, const void *va,
			   size_t len)
{
	uintptr_t p, end;

	if (unit->coherent || len == 0)
		return;
	p = (uintptr_t)va & ~(uintptr_t)(RTE_CACHE_LINE_SIZE - 1);
	end = (uintptr_t)va + len;
#if defined(RTE_ARCH_X86)
	if (unlikely(vtd_has_clflushopt < 0)) {
		unsigned int a, b = 0, c, d;

		/* CPUID.(EAX=7,ECX=0):EBX[23] (DPDK 22.11 has no flag). */
		vtd_has_clflushopt = __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
				     (b & (1u << 23));
	}
	if (vtd_has_clflushopt) {
		rte_compiler_barrier();
		for (; p < end; p += RTE_CACHE_LINE_SIZE)
			clflushopt_line((const void *)p);
		/* The flushes complete before whatever makes the unit look
		 * (a register write, a descriptor, a later entry). */
		rte_wmb();
		return;
	}
	/* CLFLUSH is ordered with writes and with other CLFLUSHes; the
	 * fences keep Linux's clflush_cache_range discipline. */
	rte_mb();
	for (; p < end; p += RTE_CACHE_LINE_SIZE)
		_mm_clflush((const void *)p);
	rte_mb();
#else
	RTE_SET_USED(p);
	RTE_SET_USED(end);
	rte_mb();
#endif
}

/* ---------------------------------------------------------------------------
 * Table-page pool.
 */
#define PT_CHUNK_PAGES 64
#define PT_CACHE_MAX   64
#define PT_CACHE_BATCH 32

struct pt_chunk {
	struct pt_chunk *next;
	void *mem;                          /* PT_CHUNK_PAGES pages */
	struct vtd_pt_page **children;      /* dir pools: 512 per page */
	struct vtd_pt_page meta[PT_CHUNK_PAGES];
};

struct pt_cache {
	uint32_t len;                       /* [O] */
	struct vtd_pt_page *objs[PT_CACHE_MAX];
} __rte_cache_aligned;

struct pt_sub {
	uvtd_lock_t lock;
	struct vtd_pt_page *free;           /* [lock] */
	struct pt_chunk *chunks;            /* [lock] */
	uint64_t nr_pages;                  /* [lock] carved */
	uint64_t in_use;                    /* [A] handed out */
	bool dir;
	struct pt_cache cache[RTE_MAX_LCORE];
};

struct vtd_pt_pool {
	struct vtd_unit *unit;
	int socket;
	struct pt_sub sub[2];               /* 0: leaf tables, 1: directories */
};

static int pt_grow_locked(struct vtd_pt_pool *p, struct pt_sub *s)
{
	/* Cache-line aligned: meta[] holds cache-aligned page descriptors
	 * (calloc only promises 16 bytes). */
	struct pt_chunk *c = aligned_alloc(RTE_CACHE_LINE_SIZE,
					   RTE_ALIGN_CEIL(sizeof(*c),
							  RTE_CACHE_LINE_SIZE));

	if (c == NULL)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->mem = rte_zmalloc_socket("vtd_pt", PT_CHUNK_PAGES * 4096, 4096,
				    p->socket);
	if (c->mem == NULL) {
		free(c);
		return -ENOMEM;
	}
	if (s->dir) {
		c->children = calloc((size_t)PT_CHUNK_PAGES * VTD_PT_ENTRIES,
				     sizeof(*c->children));
		if (c->children == NULL) {
			rte_free(c->mem);
			free(c);
			return -ENOMEM;
		}
	}
	for (unsigned int i = 0; i < PT_CHUNK_PAGES; i++) {
		struct vtd_pt_page *pg = &c->meta[i];

		pg->va = (uint64_t *)((uint8_t *)c->mem + (size_t)i * 4096);
		/* Each page on its own: a chunk need not be IOVA-contiguous
		 * (hugepages are, 4 KiB pages under --no-huge are IOVA=VA). */
		pg->iova = rte_mem_virt2iova(pg->va);
		if (pg->iova == RTE_BAD_IOVA ||
		    !vtd_iova_reachable(p->unit, pg->iova, 4096)) {
			VTD_LOG(ERR, p->unit, "table page %p has no IOVA",
				(void *)pg->va);
			free(c->children);
			rte_free(c->mem);
			free(c);
			return -EFAULT;
		}
		pg->dir = s->dir;
		if (s->dir)
			pg->children = &c->children[(size_t)i * VTD_PT_ENTRIES];
	}
	for (unsigned int i = PT_CHUNK_PAGES; i-- > 0;) {
		c->meta[i].next = s->free;
		s->free = &c->meta[i];
	}
	c->next = s->chunks;
	s->chunks = c;
	s->nr_pages += PT_CHUNK_PAGES;
	return 0;
}

int vtd_pt_pool_create(struct vtd_unit *u)
{
	struct vtd_pt_pool *p = rte_zmalloc_socket("vtd_pt_pool", sizeof(*p),
						   RTE_CACHE_LINE_SIZE,
						   u->socket_id);

	if (p == NULL)
		return -ENOMEM;
	p->unit = u;
	p->socket = u->socket_id;
	for (unsigned int i = 0; i < 2; i++) {
		uvtd_lock_init(&p->sub[i].lock);
		p->sub[i].dir = i == 1;
	}
	u->pt_pool = p;
	return 0;
}

void vtd_pt_pool_destroy(struct vtd_unit *u)
{
	struct vtd_pt_pool *p = u->pt_pool;

	if (p == NULL)
		return;
	for (unsigned int i = 0; i < 2; i++) {
		struct pt_sub *s = &p->sub[i];

		if (__atomic_load_n(&s->in_use, __ATOMIC_RELAXED))
			VTD_LOG(WARNING, u,
				"table pool: %" PRIu64 " pages still "
				"in use at close",
				s->in_use);
		while (s->chunks) {
			struct pt_chunk *c = s->chunks;

			s->chunks = c->next;
			rte_free(c->mem);
			free(c->children);
			free(c);
		}
	}
	rte_free(p);
	u->pt_pool = NULL;
}

/* Moves up to n pages from the global list into out[]; grows when empty. */
static unsigned int pt_take(struct vtd_pt_pool *p, struct pt_sub *s,
			    struct vtd_pt_page **out, unsigned int n)
{
	unsigned int got = 0;

	uvtd_lock(&s->lock);
	while (got < n) {
		if (s->free == NULL && pt_grow_locked(p, s) != 0)
			break;
		out[got] = s->free;
		s->free = s->free->next;
		out[got]->next = NULL;
		got++;
	}
	uvtd_unlock(&s->lock);
	return got;
}

static void pt_give(struct pt_sub *s, struct vtd_pt_page **pg, unsigned int n)
{
	uvtd_lock(&s->lock);
	for (unsigned int i = 0; i < n; i++) {
		pg[i]->next = s->free;
		s->free = pg[i];
	}
	uvtd_unlock(&s->lock);
}

struct vtd_pt_page *vtd_pt_page_get(struct vtd_pt_pool *p, bool dir)
{
	struct pt_sub *s = &p->sub[dir ? 1 : 0];
	unsigned int lcore = rte_lcore_id();
	struct vtd_pt_page *pg = NULL;

	if (lcore < RTE_MAX_LCORE) {
		struct pt_cache *c = &s->cache[lcore];

		if (c->len == 0)
			c->len = pt_take(p, s, c->objs, PT_CACHE_BATCH);
		if (c->len)
			pg = c->objs[--c->len];
	} else {
		pt_take(p, s, &pg, 1);
	}
	if (pg == NULL) {
		VTD_LOG(ERR, p->unit, "no memory for a page-table page");
		return NULL;
	}
	__atomic_fetch_add(&s->in_use, 1, __ATOMIC_RELAXED);
	pg->next = NULL;
	return pg;
}

void vtd_pt_page_put(struct vtd_pt_pool *p, struct vtd_pt_page *pg)
{
	struct pt_sub *s = &p->sub[pg->dir ? 1 : 0];
	unsigned int lcore = rte_lcore_id();

	RTE_ASSERT(vtd_pt_page_empty(pg));
	pg->level = 0;
	pg->next = NULL;
	__atomic_fetch_sub(&s->in_use, 1, __ATOMIC_RELAXED);
	if (lcore < RTE_MAX_LCORE) {
		struct pt_cache *c = &s->cache[lcore];

		if (c->len == PT_CACHE_MAX) {
			c->len -= PT_CACHE_BATCH;
			pt_give(s, &c->objs[c->len], PT_CACHE_BATCH);
		}
		c->objs[c->len++] = pg;
	} else {
		pt_give(s, &pg, 1);
	}
}

uint64_t vtd_pt_pool_in_use(const struct vtd_pt_pool *p)
{
	return __atomic_load_n(&p->sub[0].in_use, __ATOMIC_RELAXED) +
	       __atomic_load_n(&p->sub[1].in_use, __ATOMIC_RELAXED);
}
