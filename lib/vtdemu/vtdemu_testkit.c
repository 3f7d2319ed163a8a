/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu test kit: see vtdemu_testkit.h. Builds tables the way the VT-d
 * specification lays them out (§9), independently of the driver, in an
 * arena of "physical" memory.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "vtdemu_testkit.h"

/* ------------------------------------------------------------------------
 * Arena
 */

int vtk_arena_init(struct vtk_arena *a, uint64_t base, uint64_t size)
{
	void *m;

	memset(a, 0, sizeof(*a));
	if (base == 0)
		base = VTK_ARENA_DEFAULT_BASE;
	if (base & (VTK_PAGE_SIZE - 1))
		return -EINVAL;
	size = (size + VTK_PAGE_SIZE - 1) & ~(uint64_t)(VTK_PAGE_SIZE - 1);
	if (size == 0)
		return -EINVAL;
	/* Anonymous memory is zero-filled and committed on first touch, so a
	 * large arena costs nothing until used. */
	m = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -ENOMEM;
	a->mem = m;
	a->base = base;
	a->size = size;
	a->next = 0;
	return 0;
}

void vtk_arena_fini(struct vtk_arena *a)
{
	if (a->mem)
		munmap(a->mem, a->size);
	memset(a, 0, sizeof(*a));
}

void *vtk_resolve(void *opaque, uint64_t addr, size_t len)
{
	const struct vtk_arena *a = opaque;

	/* Written so that no sum can overflow: addr - base is only computed
	 * once addr >= base is known. */
	if (addr < a->base || len > a->size)
		return NULL;
	if (addr - a->base > a->size - len)
		return NULL;
	return a->mem + (addr - a->base);
}

void *vtk_ptr(const struct vtk_arena *a, uint64_t pa)
{
	return vtk_resolve((void *)(uintptr_t)a, pa, 1);
}

uint64_t vtk_pa(const struct vtk_arena *a, const void *p)
{
	const uint8_t *b = p;

	if (b < a->mem || b >= a->mem + a->size)
		return 0;
	return a->base + (uint64_t)(b - a->mem);
}

uint64_t vtk_alloc(struct vtk_arena *a, uint64_t size, uint64_t align)
{
	uint64_t old, start, end;

	if (align < 8)
		align = 8;
	if (align & (align - 1))
		return 0;
	old = __atomic_load_n(&a->next, __ATOMIC_RELAXED);
	do {
		/* The arena base is page aligned, so aligning the offset aligns
		 * the pa for every align up to 4 KiB; larger alignments are
		 * computed on the pa itself. */
		start = ((a->base + old + align - 1) & ~(align - 1)) - a->base;
		end = start + size;
		if (end > a->size || end < start)
			return 0;
	} while (!__atomic_compare_exchange_n(&a->next, &old, end, true,
					      __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	/* mmap'd memory starts zeroed and is never handed out twice. */
	return a->base + start;
}

uint64_t vtk_alloc_page(struct vtk_arena *a)
{
	return vtk_alloc(a, VTK_PAGE_SIZE, VTK_PAGE_SIZE);
}

/* Installs a freshly allocated zeroed page behind *slot with flags, unless
 * another thread did so first; returns the entry now in the slot. */
static uint64_t install_table(struct vtk_arena *a, uint64_t *slot,
			      uint64_t flags, bool *oom)
{
	uint64_t cur = vtk_load64(slot), pg, nv;

	if (cur & flags)
		return cur;
	pg = vtk_alloc_page(a);
	if (!pg) {
		*oom = true;
		return 0;
	}
	nv = pg | flags;
	if (__atomic_compare_exchange_n(slot, &cur, nv, false,
					__ATOMIC_RELEASE, __ATOMIC_ACQUIRE))
		return nv;
	/* Lost the race: the page leaks into the arena, harmless. */
	return cur;
}

/* ------------------------------------------------------------------------
 * Legacy root and context tables (VT-d spec §9.1, §9.3)
 */

uint64_t *vtk_root_entry(struct vtk_arena *a, uint64_t root, uint8_t bus)
{
	return vtk_resolve(a, root + (uint64_t)bus * 16, 16);
}

uint64_t *vtk_legacy_context_entry(struct vtk_arena *a, uint64_t root,
				   uint16_t sid, bool create)
{
	uint64_t *re = vtk_root_entry(a, root, (uint8_t)(sid >> 8));
	uint64_t lo;
	bool oom = false;

	if (!re)
		return NULL;
	lo = vtk_load64(&re[0]);
	if (!(lo & 1)) {
		if (!create)
			return NULL;
		lo = install_table(a, &re[0], 1, &oom);
		if (oom)
			return NULL;
	}
	return vtk_resolve(a, (lo & ~0xfffull) + (sid & 0xff) * 16u, 16);
}

int vtk_legacy_set_context(struct vtk_arena *a, uint64_t root, uint16_t sid,
			   const struct vtk_legacy_ctx *ctx)
{
	uint64_t *ce = vtk_legacy_context_entry(a, root, sid, true);
	uint64_t lo, hi;

	if (!ce)
		return -ENOMEM;
	/* §9.3: lo = P 0, FPD 1, TT 3:2, SLPTPTR 63:12; hi = AW 2:0, DID 23:8 */
	lo = (ctx->present ? 1ull : 0) | (ctx->fpd ? 2ull : 0) |
	     ((uint64_t)(ctx->tt & 3) << 2) | (ctx->slptptr & ~0xfffull);
	hi = (uint64_t)(ctx->aw & 7) | ((uint64_t)ctx->did << 8);
	/* Present last, so that a unit never sees a present entry with a
	 * stale half. */
	vtk_store64(&ce[0], lo & ~1ull);
	vtk_store64(&ce[1], hi);
	vtk_store64(&ce[0], lo);
	return 0;
}

int vtk_legacy_clear_context(struct vtk_arena *a, uint64_t root,
			     uint16_t sid)
{
	uint64_t *ce = vtk_legacy_context_entry(a, root, sid, false);

	if (!ce)
		return 0;
	vtk_store64(&ce[0], 0);
	vtk_store64(&ce[1], 0);
	return 0;
}

/* ------------------------------------------------------------------------
 * Scalable mode (VT-d spec §9.2, §9.4, §9.5, §9.6)
 */

uint64_t *vtk_sm_context_entry(struct vtk_arena *a, uint64_t root,
			       uint16_t sid, bool create)
{
	uint64_t *re = vtk_root_entry(a, root, (uint8_t)(sid >> 8));
	unsigned int devfn = sid & 0xff;
	uint64_t *half, v;
	bool oom = false;

	if (!re)
		return NULL;
	/* §9.2: the lower half (LP, LCTP) serves devfn 0-127, the upper half
	 * (UP, UCTP) devfn 128-255. */
	half = &re[devfn >= 128 ? 1 : 0];
	v = vtk_load64(half);
	if (!(v & 1)) {
		if (!create)
			return NULL;
		v = install_table(a, half, 1, &oom);
		if (oom)
			return NULL;
	}
	return vtk_resolve(a, (v & ~0xfffull) + (devfn & 0x7f) * 32u, 32);
}

int vtk_sm_set_context(struct vtk_arena *a, uint64_t root, uint16_t sid,
		       const struct vtk_sm_ctx *ctx)
{
	uint64_t *ce = vtk_sm_context_entry(a, root, sid, true);
	uint64_t lo, hi;

	if (!ce)
		return -ENOMEM;
	/* §9.4: qw0 = P 0, FPD 1, DTE 2, PASIDE 3, PRE 4, PDTS 11:9,
	 * PASIDDIRPTR 63:12; qw1 = RID_PASID 19:0; qw2, qw3 reserved. */
	lo = (ctx->present ? 1ull : 0) | (ctx->fpd ? 2ull : 0) |
	     (ctx->dte ? 4ull : 0) | (ctx->paside ? 8ull : 0) |
	     (ctx->pre ? 16ull : 0) | ((uint64_t)(ctx->pdts & 7) << 9) |
	     (ctx->pasid_dir & ~0xfffull);
	hi = ctx->rid_pasid & 0xfffffu;
	vtk_store64(&ce[0], lo & ~1ull);
	vtk_store64(&ce[1], hi);
	vtk_store64(&ce[2], 0);
	vtk_store64(&ce[3], 0);
	vtk_store64(&ce[0], lo);
	return 0;
}

int vtk_sm_clear_context(struct vtk_arena *a, uint64_t root, uint16_t sid)
{
	uint64_t *ce = vtk_sm_context_entry(a, root, sid, false);

	if (!ce)
		return 0;
	vtk_store64(&ce[0], 0);
	vtk_store64(&ce[1], 0);
	return 0;
}

uint64_t vtk_pasid_dir_new(struct vtk_arena *a, unsigned int pdts)
{
	uint64_t bytes = ((uint64_t)1 << (pdts + 7)) * 8;

	if (bytes < VTK_PAGE_SIZE)
		bytes = VTK_PAGE_SIZE;
	return vtk_alloc(a, bytes, VTK_PAGE_SIZE);
}

uint64_t *vtk_pasid_dir_entry(struct vtk_arena *a, uint64_t dir,
			      uint32_t pasid)
{
	return vtk_resolve(a, dir + (uint64_t)(pasid >> 6) * 8, 8);
}

uint64_t *vtk_pasid_entry(struct vtk_arena *a, uint64_t dir, uint32_t pasid,
			  bool create)
{
	uint64_t *de = vtk_pasid_dir_entry(a, dir, pasid);
	uint64_t v;
	bool oom = false;

	if (!de)
		return NULL;
	v = vtk_load64(de);
	if (!(v & 1)) {
		if (!create)
			return NULL;
		v = install_table(a, de, 1, &oom);
		if (oom)
			return NULL;
	}
	return vtk_resolve(a, (v & ~0xfffull) + (pasid & 0x3f) * 64u, 64);
}

int vtk_pasid_set(struct vtk_arena *a, uint64_t dir, uint32_t pasid,
		  const struct vtk_pasid_entry *pe)
{
	uint64_t *e = vtk_pasid_entry(a, dir, pasid, true);
	uint64_t q0, q1, q2;
	int i;

	if (!e)
		return -ENOMEM;
	/* §9.6: qw0 = P 0, FPD 1, AW 4:2, PGTT 8:6, SSPTPTR 63:12;
	 * qw1 = DID 15:0; qw2 = SRE 0, FLPM 3:2, WPE 4, NXE 5,
	 * FSPTPTR 63:12. */
	q0 = (pe->present ? 1ull : 0) | (pe->fpd ? 2ull : 0) |
	     ((uint64_t)(pe->aw & 7) << 2) | ((uint64_t)(pe->pgtt & 7) << 6) |
	     (pe->ssptptr & ~0xfffull);
	q1 = pe->did;
	q2 = (pe->sre ? 1ull : 0) | ((uint64_t)(pe->flpm & 3) << 2) |
	     (pe->wpe ? 16ull : 0) | (pe->nxe ? 32ull : 0) |
	     (pe->fsptptr & ~0xfffull);
	vtk_store64(&e[0], q0 & ~1ull);
	vtk_store64(&e[1], q1);
	vtk_store64(&e[2], q2);
	for (i = 3; i < 8; i++)
		vtk_store64(&e[i], 0);
	vtk_store64(&e[0], q0);
	return 0;
}

int vtk_pasid_clear(struct vtk_arena *a, uint64_t dir, uint32_t pasid)
{
	uint64_t *e = vtk_pasid_entry(a, dir, pasid, false);
	int i;

	if (!e)
		return 0;
	for (i = 0; i < 8; i++)
		vtk_store64(&e[i], 0);
	return 0;
}

/* ------------------------------------------------------------------------
 * Page tables (VT-d spec §9.7 first stage, §9.8 second stage)
 */

static unsigned int pt_index(uint64_t iova, unsigned int level)
{
	return (unsigned int)((iova >> (12 + 9 * (level - 1))) & 0x1ff);
}

static bool pt_present(const struct vtk_pt *pt, uint64_t e)
{
	return pt->fmt == VTK_PT_FIRST_STAGE ? (e & VTK_FS_P) != 0
					     : (e & (VTK_SS_R | VTK_SS_W)) != 0;
}

static uint64_t pt_table_flags(const struct vtk_pt *pt)
{
	return pt->fmt == VTK_PT_FIRST_STAGE
		       ? VTK_FS_P | VTK_FS_RW | VTK_FS_US | VTK_FS_A
		       : VTK_SS_R | VTK_SS_W;
}

int vtk_pt_init(struct vtk_pt *pt, struct vtk_arena *a,
		enum vtk_pt_format fmt, unsigned int levels)
{
	memset(pt, 0, sizeof(*pt));
	if (levels < 3 || levels > 5 ||
	    (fmt == VTK_PT_FIRST_STAGE && levels < 4))
		return -EINVAL;
	pt->arena = a;
	pt->fmt = fmt;
	pt->levels = levels;
	pt->root = vtk_alloc_page(a);
	return pt->root ? 0 : -ENOMEM;
}

/* Walks down to the table at level `level`, allocating missing tables when
 * create; returns a pointer to the entry for iova there. */
static uint64_t *pt_walk(struct vtk_pt *pt, uint64_t iova, unsigned int level,
			 bool create, int *err)
{
	uint64_t table = pt->root, *slot, e;
	unsigned int l;
	bool oom = false;

	*err = 0;
	for (l = pt->levels; ; l--) {
		slot = vtk_resolve(pt->arena, table + pt_index(iova, l) * 8u,
				   8);
		if (!slot) {
			*err = -EFAULT;
			return NULL;
		}
		if (l == level)
			return slot;
		e = vtk_load64(slot);
		if (pt_present(pt, e) && (e & VTK_SS_PS)) {
			/* A leaf above the requested level (PS is bit 7 in
			 * both formats). */
			*err = -EEXIST;
			return NULL;
		}
		if (!pt_present(pt, e)) {
			if (!create) {
				*err = -ENOENT;
				return NULL;
			}
			e = install_table(pt->arena, slot, pt_table_flags(pt),
					  &oom);
			if (oom) {
				*err = -ENOMEM;
				return NULL;
			}
		}
		table = e & VTK_ADDR_MASK;
	}
}

int vtk_pt_map(struct vtk_pt *pt, uint64_t iova, uint64_t pa,
	       unsigned int level, unsigned int perm)
{
	uint64_t size, e, *slot;
	int err;

	if (level < 1 || level > pt->levels)
		return -EINVAL;
	size = vtk_level_size(level);
	if ((iova | pa) & (size - 1))
		return -EINVAL;
	slot = pt_walk(pt, iova, level, true, &err);
	if (!slot)
		return err;
	if (pt->fmt == VTK_PT_FIRST_STAGE) {
		e = perm ? (pa | VTK_FS_P | VTK_FS_US | VTK_FS_A) : 0;
		if (perm & VTDEMU_ACCESS_WRITE)
			e |= VTK_FS_RW | VTK_FS_D;
	} else {
		e = pa;
		if (perm & VTDEMU_ACCESS_READ)
			e |= VTK_SS_R;
		if (perm & VTDEMU_ACCESS_WRITE)
			e |= VTK_SS_W;
		if (!perm)
			e = 0;
	}
	if (e && level > 1)
		e |= VTK_SS_PS;
	vtk_store64(slot, e);
	return 0;
}

int vtk_pt_map_range(struct vtk_pt *pt, uint64_t iova, uint64_t pa,
		     uint64_t len, unsigned int perm)
{
	uint64_t off;
	int rc;

	if (len & (VTK_PAGE_SIZE - 1))
		return -EINVAL;
	for (off = 0; off < len; off += VTK_PAGE_SIZE) {
		rc = vtk_pt_map(pt, iova + off, pa + off, 1, perm);
		if (rc)
			return rc;
	}
	return 0;
}

int vtk_pt_unmap(struct vtk_pt *pt, uint64_t iova, unsigned int level)
{
	uint64_t *slot;
	int err;

	if (level < 1 || level > pt->levels)
		return -EINVAL;
	slot = pt_walk(pt, iova, level, false, &err);
	if (!slot)
		return err;
	vtk_store64(slot, 0);
	return 0;
}

uint64_t *vtk_pt_entry(struct vtk_pt *pt, uint64_t iova, unsigned int level)
{
	int err;

	if (level < 1 || level > pt->levels)
		return NULL;
	return pt_walk(pt, iova, level, false, &err);
}

/* ------------------------------------------------------------------------
 * Registers
 */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* GCMD bits that stay on until cleared (§11.4.4): TE, QIE, IRE, CFI. The
 * one-shot ones (SRTP, SFL, WBF, SIRTP) must not be re-sent. */
#define GCMD_PERSISTENT (VTK_GCMD_TE | VTK_GCMD_QIE | (1u << 25) | (1u << 23))
#define GCMD_ONESHOT (VTK_GCMD_SRTP | (1u << 29) | VTK_GCMD_WBF | (1u << 24))

int vtk_gcmd(struct vtdemu *emu, uint32_t set, uint32_t clear,
	     uint64_t timeout_ns)
{
	uint32_t gsts = (uint32_t)vtdemu_reg_read(emu, VTK_REG_GSTS, 4);
	uint32_t cmd = ((gsts & GCMD_PERSISTENT) | set) & ~clear;
	/* WBFS is set while the flush runs and clears when it is done. */
	uint32_t want_on = set & ~VTK_GCMD_WBF;
	uint32_t want_off = (clear & GCMD_PERSISTENT) | (set & VTK_GCMD_WBF);
	uint64_t deadline = now_ns() + timeout_ns;

	vtdemu_reg_write(emu, VTK_REG_GCMD, cmd, 4);
	for (;;) {
		gsts = (uint32_t)vtdemu_reg_read(emu, VTK_REG_GSTS, 4);
		/* SRTP, SFL, SIRTP report completion by their status bit being
		 * set, WBF by WBFS being clear (§11.4.5). */
		if ((gsts & want_on) == want_on && !(gsts & want_off))
			return 0;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		sched_yield();
	}
}

int vtk_set_root(struct vtdemu *emu, uint64_t root, bool scalable)
{
	vtdemu_reg_write(emu, VTK_REG_RTADDR,
			 root | (scalable ? VTK_RTADDR_SMT : 0), 8);
	return vtk_gcmd(emu, VTK_GCMD_SRTP, 0, VTK_TIMEOUT_NS);
}

static uint32_t frcd_offset(struct vtdemu *emu, unsigned int i)
{
	uint64_t cap = vtdemu_get_caps(emu)->cap;

	return (uint32_t)(((cap >> 24) & 0x3ff) * 16 + 16 * i);
}

static unsigned int frcd_count(struct vtdemu *emu)
{
	return (unsigned int)((vtdemu_get_caps(emu)->cap >> 40) & 0xff) + 1;
}

int vtk_frcd_read(struct vtdemu *emu, unsigned int i, struct vtk_frcd *out)
{
	uint32_t off;
	uint64_t lo, hi;

	if (i >= frcd_count(emu))
		return -EINVAL;
	off = frcd_offset(emu, i);
	lo = vtdemu_reg_read(emu, off, 8);
	hi = vtdemu_reg_read(emu, off + 8, 8);
	/* §11.4.14: FI 63:12; SID 79:64, PP 95, FR 103:96, PV 123:104,
	 * AT 125:124, T 126, F 127. */
	out->fi = lo & ~0xfffull;
	out->sid = (uint16_t)hi;
	out->pp = (hi >> 31) & 1;
	out->reason = (uint8_t)(hi >> 32);
	out->pasid = (uint32_t)(hi >> 40) & 0xfffff;
	out->at = (unsigned int)(hi >> 60) & 3;
	out->t_read = (hi >> 62) & 1;
	out->f = (hi >> 63) & 1;
	return 0;
}

void vtk_frcd_clear(struct vtdemu *emu, unsigned int i)
{
	if (i >= frcd_count(emu))
		return;
	/* F is RW1C, in the top dword of the record. */
	vtdemu_reg_write(emu, frcd_offset(emu, i) + 12, 1u << 31, 4);
	vtdemu_reg_write(emu, VTK_REG_FSTS, VTK_FSTS_PFO | VTK_FSTS_PPF, 4);
}

void vtk_faults_clear(struct vtdemu *emu)
{
	unsigned int i, n = frcd_count(emu);

	for (i = 0; i < n; i++)
		vtdemu_reg_write(emu, frcd_offset(emu, i) + 12, 1u << 31, 4);
	vtdemu_reg_write(emu, VTK_REG_FSTS, VTK_FSTS_PFO | VTK_FSTS_PPF, 4);
}

/* ------------------------------------------------------------------------
 * Descriptors (VT-d spec §6.5.2)
 */

uint64_t vtk_desc_cc(unsigned int gran, uint16_t did, uint16_t sid,
		     unsigned int fm)
{
	return 1 | ((uint64_t)(gran & 3) << 4) | ((uint64_t)did << 16) |
	       ((uint64_t)sid << 32) | ((uint64_t)(fm & 3) << 48);
}

uint64_t vtk_desc_iotlb(unsigned int gran, uint16_t did, uint64_t addr,
			unsigned int am, bool ih, uint64_t *qw1)
{
	*qw1 = gran == VTK_GRAN_PAGE
		       ? (addr & ~0xfffull) | (ih ? 1ull << 6 : 0) | (am & 0x3f)
		       : 0;
	return 2 | ((uint64_t)(gran & 3) << 4) | ((uint64_t)did << 16);
}

/* The ATS size encoding (§6.5.2.5): with S=1 the lowest clear bit of
 * ADDR[63:12] at position 12+k means 8 KiB << k. */
static uint64_t devtlb_addr(uint64_t addr, unsigned int order)
{
	addr &= ~0xfffull;
	if (order == 0)
		return addr;
	if (order >= 52)
		return 0x7ffffffffffff000ull | 1;
	return (addr & ~((1ull << (12 + order)) - 1)) |
	       (((1ull << (12 + order - 1)) - 1) & ~0xfffull) | 1;
}

uint64_t vtk_desc_devtlb(uint16_t sid, uint64_t addr, unsigned int order,
			 uint64_t *qw1)
{
	*qw1 = devtlb_addr(addr, order);
	return 3 | ((uint64_t)sid << 32);
}

uint64_t vtk_desc_wait(uint32_t data, uint64_t status_pa, uint64_t *qw1)
{
	*qw1 = status_pa & ~3ull;
	return 5 | (1ull << 5) | ((uint64_t)data << 32);
}

uint64_t vtk_desc_piotlb(unsigned int gran, uint16_t did, uint32_t pasid,
			 uint64_t addr, unsigned int am, bool ih,
			 uint64_t *qw1)
{
	*qw1 = gran == VTK_GRAN_PAGE
		       ? (addr & ~0xfffull) | (ih ? 1ull << 6 : 0) | (am & 0x3f)
		       : 0;
	return 6 | ((uint64_t)(gran & 3) << 4) | ((uint64_t)did << 16) |
	       ((uint64_t)(pasid & 0xfffff) << 32);
}

uint64_t vtk_desc_pc(unsigned int gran, uint16_t did, uint32_t pasid)
{
	return 7 | ((uint64_t)(gran & 3) << 4) | ((uint64_t)did << 16) |
	       ((uint64_t)(pasid & 0xfffff) << 32);
}

uint64_t vtk_desc_pdevtlb(uint16_t sid, uint32_t pasid, bool global,
			  uint64_t addr, unsigned int order, uint64_t *qw1)
{
	uint64_t a = devtlb_addr(addr, order);

	/* Type 8: S is bit 11 of qw1 and G bit 0, so the size flag moves. */
	*qw1 = (a & ~0xfffull) | ((a & 1) ? 1ull << 11 : 0) |
	       (global ? 1 : 0);
	return 8 | ((uint64_t)sid << 16) | ((uint64_t)(pasid & 0xfffff) << 32);
}

/* ------------------------------------------------------------------------
 * Queued invalidation
 */

int vtk_qi_enable(struct vtk_qi *q, struct vtdemu *emu, struct vtk_arena *a,
		  unsigned int qs, bool dw)
{
	int rc;

	memset(q, 0, sizeof(*q));
	if (qs > 7)
		return -EINVAL;
	q->emu = emu;
	q->arena = a;
	q->dw = dw;
	q->base = vtk_alloc(a, (uint64_t)VTK_PAGE_SIZE << qs, VTK_PAGE_SIZE);
	q->status_pa = vtk_alloc(a, 64, 64);
	if (!q->base || !q->status_pa)
		return -ENOMEM;
	/* §11.4.9.3: 2^(QS+8) 128-bit or 2^(QS+7) 256-bit descriptors. */
	q->slots = 1u << (qs + (dw ? 7 : 8));
	vtdemu_reg_write(emu, VTK_REG_IQT, 0, 8);
	vtdemu_reg_write(emu, VTK_REG_IQA,
			 q->base | (dw ? 1ull << 11 : 0) | qs, 8);
	rc = vtk_gcmd(emu, VTK_GCMD_QIE, 0, VTK_TIMEOUT_NS);
	return rc;
}

static unsigned int qi_shift(const struct vtk_qi *q)
{
	return q->dw ? 5 : 4;
}

static int qi_slot(struct vtk_qi *q, uint64_t **out)
{
	uint64_t head = vtdemu_reg_read(q->emu, VTK_REG_IQH, 8);
	unsigned int h = (unsigned int)(head >> qi_shift(q)) & (q->slots - 1);
	unsigned int size = q->dw ? 32 : 16;

	/* One slot stays empty: tail == head means empty (§6.5.2). */
	if (((q->tail + 1) & (q->slots - 1)) == h)
		return -ENOSPC;
	*out = vtk_ptr(q->arena, q->base + (uint64_t)q->tail * size);
	return *out ? 0 : -EFAULT;
}

int vtk_qi_append(struct vtk_qi *q, uint64_t qw0, uint64_t qw1)
{
	uint64_t *d;
	int rc = qi_slot(q, &d);

	if (rc)
		return rc;
	vtk_store64(&d[0], qw0);
	vtk_store64(&d[1], qw1);
	if (q->dw) {
		vtk_store64(&d[2], 0);
		vtk_store64(&d[3], 0);
	}
	q->tail = (q->tail + 1) & (q->slots - 1);
	return 0;
}

int vtk_qi_append256(struct vtk_qi *q, const uint64_t qw[4])
{
	uint64_t *d;
	int rc, i;

	if (!q->dw)
		return -EINVAL;
	rc = qi_slot(q, &d);
	if (rc)
		return rc;
	for (i = 0; i < 4; i++)
		vtk_store64(&d[i], qw[i]);
	q->tail = (q->tail + 1) & (q->slots - 1);
	return 0;
}

void vtk_qi_submit(struct vtk_qi *q)
{
	vtdemu_reg_write(q->emu, VTK_REG_IQT,
			 (uint64_t)q->tail << qi_shift(q), 8);
}

int vtk_qi_sync(struct vtk_qi *q, uint64_t timeout_ns)
{
	uint32_t *status = vtk_ptr(q->arena, q->status_pa);
	uint64_t qw0, qw1, deadline;
	uint32_t seq = q->seq + 1, fsts;
	int rc;

	if (!status)
		return -EFAULT;
	qw0 = vtk_desc_wait(seq, q->status_pa, &qw1);
	rc = vtk_qi_append(q, qw0, qw1);
	if (rc)
		return rc;
	q->seq = seq;
	vtk_qi_submit(q);
	deadline = now_ns() + timeout_ns;
	for (;;) {
		if (__atomic_load_n(status, __ATOMIC_ACQUIRE) == seq)
			return 0;
		fsts = (uint32_t)vtdemu_reg_read(q->emu, VTK_REG_FSTS, 4);
		if (fsts & (VTK_FSTS_IQE | VTK_FSTS_ITE | VTK_FSTS_ICE))
			return -EIO;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		sched_yield();
	}
}

/* ------------------------------------------------------------------------
 * Environment
 */

int vtk_env_init(struct vtk_env *env, const char *preset,
		 uint64_t arena_bytes)
{
	int rc;

	memset(env, 0, sizeof(*env));
	rc = vtk_arena_init(&env->arena, 0, arena_bytes);
	if (rc)
		return rc;
	vtdemu_config_init(&env->cfg);
	if (preset) {
		rc = vtdemu_preset(preset, &env->cfg.caps);
		if (rc) {
			vtk_arena_fini(&env->arena);
			return rc;
		}
	}
	env->cfg.resolve = vtk_resolve;
	env->cfg.resolve_opaque = &env->arena;
	return 0;
}

int vtk_env_start(struct vtk_env *env, unsigned int flags)
{
	char err[160] = "";
	int rc;

	env->emu = vtdemu_create(&env->cfg, err, sizeof(err));
	if (!env->emu) {
		fprintf(stderr, "vtk_env_start: vtdemu_create: %s\n", err);
		return -EINVAL;
	}
	env->scalable = (flags & VTK_START_SCALABLE) != 0;
	env->root = vtk_alloc_page(&env->arena);
	if (!env->root)
		return -ENOMEM;
	rc = vtk_set_root(env->emu, env->root, env->scalable);
	if (rc) {
		fprintf(stderr, "vtk_env_start: SRTP: %d\n", rc);
		return rc;
	}
	if (flags & VTK_START_QI) {
		rc = vtk_qi_enable(&env->qi, env->emu, &env->arena, 0,
				   env->scalable);
		if (rc) {
			fprintf(stderr, "vtk_env_start: QIE: %d\n", rc);
			return rc;
		}
		env->qi_enabled = true;
	}
	if (flags & VTK_START_TE) {
		rc = vtk_gcmd(env->emu, VTK_GCMD_TE, 0, VTK_TIMEOUT_NS);
		if (rc) {
			fprintf(stderr, "vtk_env_start: TE: %d\n", rc);
			return rc;
		}
	}
	return 0;
}

void vtk_env_fini(struct vtk_env *env)
{
	if (env->emu)
		vtdemu_destroy(env->emu);
	vtk_arena_fini(&env->arena);
	memset(env, 0, sizeof(*env));
}
