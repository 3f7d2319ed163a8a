/* SPDX-License-Identifier: BSD-3-Clause
 * Units: bring-up, tear-down, register polling, capabilities.
 *
 * Bring-up (vtd_unit_open), VT-d spec §10.4 and §6:
 *   1. read VER/CAP/ECAP; pick legacy or scalable mode (ECAP.SMTS or the
 *      caller's choice), queued or register-based invalidation (ECAP.QI);
 *      validate the parameters against them;
 *   2. take over the persistent GCMD bits from GSTS; if QI is on (a unit
 *      left by an earlier owner), turn it off first: IQA may only change
 *      while GSTS.QIES is clear (§6.5.2);
 *   3. root table (zeroed, flushed from the CPU caches on a non-coherent
 *      unit), write-buffer flush where CAP.RWBF (§6.8), RTADDR with its TTM
 *      (§11.4.5: 00b legacy, 01b scalable), GCMD.SRTP;
 *   4. the invalidation engine (vtd_qi_init: QI or register-based);
 *   5. after SRTP the caches may hold entries of the previous root table:
 *      global context-cache, global PASID-cache (scalable mode), global
 *      IOTLB invalidation (§6.5.3.x), unless CAP.ESRTPS says SRTP did it;
 *   6. GCMD.TE when asked.
 *
 * Tear-down (vtd_unit_close): every root entry cleared; on a real unit
 * that keeps translation on, RTADDR moved to the blocking root table
 * (vtd_regs.c: all entries not present, in a hugetlbfs file that outlives
 * the process) with SRTP; the same global invalidations (skipped after
 * that SRTP under CAP.ESRTPS), with the queue still working; the queue
 * turned off. Translation stays on (DMA blocked) unless
 * disable_translation_on_close. Where the blocking table cannot be had
 * (no hugetlbfs, no free hugepage) the process's own, cleared root table
 * is kept and an error says what to do: the unit then walks memory that
 * is freed when the process exits (docs/driver.md, the trade-off).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_pause.h>

#include "vtd_tables.h"

RTE_LOG_REGISTER(vtd_logtype, uvtd.vtd, NOTICE);

#define VTD_DEFAULT_TIMEOUT_NS (1000ull * 1000 * 1000)
#define VTD_DEFAULT_QI_ENTRIES 256u
#define VTD_DEFAULT_PSI_THRESHOLD 16u

/* ---------------------------------------------------------------------------
 * Time and polling
 */
uint64_t vtd_now_ns(void)
{
	uint64_t c = rte_get_timer_cycles();
	uint64_t hz = rte_get_timer_hz();

	/* Split so that cycles * 1e9 cannot overflow. */
	return (c / hz) * 1000000000ull + (c % hz) * 1000000000ull / hz;
}

static uint64_t unit_timeout(const struct vtd_unit *u)
{
	return u->timeout_ns ? u->timeout_ns : VTD_DEFAULT_TIMEOUT_NS;
}

/* One bounded poll for both register widths (every poll of a register is
 * bounded: architecture.md). */
static int poll_reg(const struct vtd_unit *u, uint32_t off, unsigned int size,
		    uint64_t mask, uint64_t want, const char *what)
{
	uint64_t deadline = 0;
	uint64_t v;

	for (unsigned int i = 0;; i++) {
		v = size == 4 ? vtd_read32(u, off) : vtd_read64(u, off);
		if ((v & mask) == want)
			return 0;
		/* Read the clock only once in a while: most polls end at
		 * once (the emulator and QEMU act inside the write). */
		if ((i & 63) == 0) {
			uint64_t now = vtd_now_ns();

			if (deadline == 0)
				deadline = now + unit_timeout(u);
			else if (now > deadline)
				break;
		}
		rte_pause();
	}
	VTD_LOG(ERR, u, "timeout waiting for %s: reg 0x%03x = 0x%0*" PRIx64
		", mask 0x%0*" PRIx64 " want 0x%0*" PRIx64, what, off,
		(int)size * 2, v, (int)size * 2, mask, (int)size * 2, want);
	return -ETIMEDOUT;
}

int vtd_poll32(const struct vtd_unit *u, uint32_t off, uint32_t mask,
	       uint32_t want, const char *what)
{
	return poll_reg(u, off, 4, mask, want, what);
}

int vtd_poll64(const struct vtd_unit *u, uint32_t off, uint64_t mask,
	       uint64_t want, const char *what)
{
	return poll_reg(u, off, 8, mask, want, what);
}

/* ---------------------------------------------------------------------------
 * Global command (§11.4.4). GCMD reads as zero on real units: the
 * persistent bits live in the shadow u->gcmd, one-shot commands are written
 * on top of it and never stored.
 */
int vtd_gcmd_locked(struct vtd_unit *u, uint32_t bit, bool set)
{
	switch (bit) {
	case VTD_GCMD_SRTP:
		/* RTPS: cleared by the command, set when the pointer is
		 * latched. */
		vtd_write32(u, VTD_REG_GCMD, u->gcmd | bit);
		return vtd_poll32(u, VTD_REG_GSTS, VTD_GSTS_RTPS, VTD_GSTS_RTPS,
				  "GSTS.RTPS after SRTP");
	case VTD_GCMD_SIRTP:
		vtd_write32(u, VTD_REG_GCMD, u->gcmd | bit);
		return vtd_poll32(u, VTD_REG_GSTS, bit, bit,
				  "GSTS.IRTPS after SIRTP");
	case VTD_GCMD_WBF:
		/* WBFS: set while the flush is pending, cleared when done. */
		vtd_write32(u, VTD_REG_GCMD, u->gcmd | bit);
		return vtd_poll32(u, VTD_REG_GSTS, VTD_GSTS_WBFS, 0,
				  "GSTS.WBFS clear after WBF");
	case VTD_GCMD_TE:
	case VTD_GCMD_QIE:
	case VTD_GCMD_IRE:
	case VTD_GCMD_CFI:
		if (set)
			u->gcmd |= bit;
		else
			u->gcmd &= ~bit;
		vtd_write32(u, VTD_REG_GCMD, u->gcmd);
		return vtd_poll32(u, VTD_REG_GSTS, bit, set ? bit : 0,
				  bit == VTD_GCMD_TE ? "GSTS.TES" :
				  bit == VTD_GCMD_QIE ? "GSTS.QIES" :
				  bit == VTD_GCMD_IRE ? "GSTS.IRES" :
							"GSTS.CFIS");
	default:
		VTD_LOG(ERR, u, "GCMD bit 0x%08" PRIx32 " not supported", bit);
		return -EINVAL;
	}
}

int vtd_flush_write_buffer(struct vtd_unit *u)
{
	int rc;

	if (!(u->cap & VTD_CAP_RWBF))
		return 0;
	uvtd_lock(&u->lock);
	rc = vtd_gcmd_locked(u, VTD_GCMD_WBF, true);
	uvtd_unlock(&u->lock);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Parameters
 */
void vtd_unit_params_init(struct vtd_unit_params *p)
{
	memset(p, 0, sizeof(*p));
	p->name = "vtd0";
	p->tmode = VTD_TMODE_AUTO;
	p->inval = VTD_INVAL_AUTO;
	p->socket_id = SOCKET_ID_ANY;
}

size_t vtd_regs_needed(uint64_t cap, uint64_t ecap)
{
	size_t iotlb_end = VTD_ECAP_IRO(ecap) + 16;
	size_t frcd_end = VTD_CAP_FRO(cap) + VTD_CAP_NFR(cap) * VTD_FRCD_SIZE;
	size_t need = RTE_MAX(iotlb_end, frcd_end);

	return RTE_ALIGN_CEIL(RTE_MAX(need, (size_t)4096), 4096);
}

/* Checks what can be checked before the registers are read. */
static int params_check_basic(const struct vtd_unit_params *p)
{
	if (p == NULL) {
		VTD_LOG(ERR, (struct vtd_unit *)NULL, "unit params: NULL");
		return -EINVAL;
	}
	if (p->name == NULL || p->name[0] == '\0' ||
	    strlen(p->name) >= sizeof(((struct vtd_unit *)0)->name)) {
		VTD_LOG(ERR, (struct vtd_unit *)NULL,
			"unit params: name must be 1..%zu characters",
			sizeof(((struct vtd_unit *)0)->name) - 1);
		return -EINVAL;
	}
	if (p->win.base == NULL || p->win.size < 4096) {
		rte_log(RTE_LOG_ERR, vtd_logtype,
			"vtd %s: unit params: register window %p of %zu bytes: "
			"need a mapped window of at least 4096 bytes\n",
			p->name, (const void *)p->win.base, p->win.size);
		return -EINVAL;
	}
	if ((uintptr_t)p->win.base & 7) {
		rte_log(RTE_LOG_ERR, vtd_logtype,
			"vtd %s: unit params: register window %p not 8-byte "
			"aligned\n", p->name, (const void *)p->win.base);
		return -EINVAL;
	}
	if ((unsigned int)p->tmode > VTD_TMODE_SCALABLE ||
	    (unsigned int)p->inval > VTD_INVAL_REGISTER) {
		rte_log(RTE_LOG_ERR, vtd_logtype,
			"vtd %s: unit params: bad tmode %d or inval %d\n",
			p->name, (int)p->tmode, (int)p->inval);
		return -EINVAL;
	}
	if (p->real_hw && rte_eal_iova_mode() != RTE_IOVA_PA) {
		rte_log(RTE_LOG_ERR, vtd_logtype,
			"vtd %s: a real unit needs IOVA = physical address, "
			"but "
			"DPDK runs in IOVA-as-VA mode: start EAL with "
			"--iova-mode=pa and hugepages (no --no-huge), as "
			"root\n",
			p->name);
		return -ENOTSUP;
	}
	return 0;
}

/* Checks the parameters against the capabilities and decides the modes. */
static int params_check_caps(struct vtd_unit *u,
			     const struct vtd_unit_params *p)
{
	uint64_t cap = u->cap, ecap = u->ecap;
	size_t need;

	if (cap == UINT64_MAX || ecap == UINT64_MAX || u->ver == UINT32_MAX) {
		VTD_LOG(ERR, u,
			"CAP/ECAP read all ones: no unit at this address");
		return -ENODEV;
	}
	need = vtd_regs_needed(cap, ecap);
	if (p->win.size < need) {
		VTD_LOG(ERR, u, "register window of %zu bytes too small: the "
			"IOTLB (ECAP.IRO 0x%x) and fault recording registers "
			"(CAP.FRO 0x%x, %u records) need %zu",
			p->win.size, (unsigned int)VTD_ECAP_IRO(ecap),
			(unsigned int)VTD_CAP_FRO(cap),
			(unsigned int)VTD_CAP_NFR(cap), need);
		return -EINVAL;
	}
	if ((VTD_CAP_SAGAW(cap) & 0xe) == 0 && !(ecap & VTD_ECAP_SMTS)) {
		VTD_LOG(ERR, u, "CAP.SAGAW 0x%x: no 3-, 4- or 5-level table "
			"support", (unsigned int)VTD_CAP_SAGAW(cap));
		return -ENOTSUP;
	}

	switch (p->tmode) {
	case VTD_TMODE_AUTO:
		u->scalable = (ecap & VTD_ECAP_SMTS) != 0;
		break;
	case VTD_TMODE_LEGACY:
		u->scalable = false;
		break;
	case VTD_TMODE_SCALABLE:
		if (!(ecap & VTD_ECAP_SMTS)) {
			VTD_LOG(ERR, u,
				"scalable mode asked, but the unit has "
				"no scalable-mode translation (ECAP.SMTS=0): "
				"use "
				"tmode legacy or auto");
			return -ENOTSUP;
		}
		u->scalable = true;
		break;
	}
	/* §6.6 / §11.4.3: ECAP.C covers the root, context, PASID-directory
	 * and PASID-table entries in both modes (and the paging structures
	 * in legacy mode); in scalable mode ECAP.SMPWC covers the paging
	 * structures (with PWSNP set in the PASID entry, vtd_domain.c). One
	 * flag for both: flush unless every walk snoops. */
	u->coherent = (ecap & VTD_ECAP_C) != 0 &&
		      (!u->scalable || (ecap & VTD_ECAP_SMPWC) != 0);

	switch (p->inval) {
	case VTD_INVAL_AUTO:
		u->queued = (ecap & VTD_ECAP_QI) != 0;
		break;
	case VTD_INVAL_QUEUED:
		if (!(ecap & VTD_ECAP_QI)) {
			VTD_LOG(ERR, u, "queued invalidation asked, but "
				"ECAP.QI=0: use inval register or auto");
			return -ENOTSUP;
		}
		u->queued = true;
		break;
	case VTD_INVAL_REGISTER:
		u->queued = false;
		break;
	}
	if (u->scalable && !u->queued) {
		/* PASID-cache invalidation exists only as a descriptor. */
		VTD_LOG(ERR, u, "scalable mode needs queued invalidation "
			"(PASID-cache invalidation has no register form, "
			"§6.5.2.2): use inval queued or auto");
		return -ENOTSUP;
	}

	if (u->queued) {
		/* 256-bit descriptors whenever the unit has scalable mode
		 * (IQA.DW=1, as Linux does): 128..16384 entries; 128-bit:
		 * 256..32768 (§11.4.9.3: QS up to 7, 2^QS 4 KiB pages). */
		unsigned int dbytes = (ecap & VTD_ECAP_SMTS) ? 32 : 16;
		uint32_t min = 4096 / dbytes;
		uint32_t max = (4096u << VTD_IQA_QS_MAX) / dbytes;
		uint32_t n = p->qi_entries ? p->qi_entries
					   : VTD_DEFAULT_QI_ENTRIES;

		if (!rte_is_power_of_2(n) || n < min || n > max) {
			VTD_LOG(ERR, u,
				"qi_entries %" PRIu32 ": need a power "
				"of two in [%" PRIu32 ", %" PRIu32
				"] for %u-byte "
				"descriptors (IQA.QS 0..%u)",
				n, min, max, dbytes,
				(unsigned int)VTD_IQA_QS_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Global invalidation after SRTP and at tear-down (§6.5.3.x; Linux
 * iommu_set_root_entry).
 */
static int unit_flush_all(struct vtd_unit *u)
{
	struct vtd_desc d[3];
	unsigned int n = 0;
	int rc;

	rc = vtd_flush_write_buffer(u);
	if (rc)
		return rc;
	d[n++] = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);
	if (u->scalable)
		d[n++] = vtd_desc_pc(VTD_PC_GLOBAL, 0, 0);
	d[n++] = vtd_desc_iotlb(VTD_INV_GLOBAL, 0, 0, 0, 0,
				(u->cap & VTD_CAP_DRD) != 0,
				(u->cap & VTD_CAP_DWD) != 0);
	return vtd_inv_sync(u, d, n);
}

static int unit_set_root(struct vtd_unit *u)
{
	uint64_t rta = u->root.iova |
		(u->scalable ? VTD_RTADDR_TTM_SCALABLE : VTD_RTADDR_TTM_LEGACY);
	int rc;

	vtd_flush_cache_range(u, u->root.va, 4096);
	rc = vtd_flush_write_buffer(u);
	if (rc)
		return rc;
	uvtd_lock(&u->lock);
	vtd_write64(u, VTD_REG_RTADDR, rta);
	rc = vtd_gcmd_locked(u, VTD_GCMD_SRTP, true);
	uvtd_unlock(&u->lock);
	if (rc == 0 && vtd_read64(u, VTD_REG_RTADDR) != rta) {
		VTD_LOG(ERR, u, "RTADDR reads 0x%" PRIx64 " after writing 0x%"
			PRIx64, vtd_read64(u, VTD_REG_RTADDR), rta);
		rc = -EIO;
	}
	return rc;
}

/* Points a real unit that stays translating at the blocking root table
 * (§10.4.4: RTADDR, then GCMD.SRTP; §11.4.5: the TTM the unit runs with,
 * since the mode must not change under translation). The caller
 * invalidates the caches afterwards (unless CAP.ESRTPS). */
static int unit_park(struct vtd_unit *u, uint64_t *blocking)
{
	uint64_t rta;
	int rc;

	rc = vtd_blocking_root_prepare(u, blocking);
	if (rc)
		return rc;
	rta = *blocking |
		(u->scalable ? VTD_RTADDR_TTM_SCALABLE : VTD_RTADDR_TTM_LEGACY);
	rc = vtd_flush_write_buffer(u);
	if (rc)
		return rc;
	uvtd_lock(&u->lock);
	vtd_write64(u, VTD_REG_RTADDR, rta);
	rc = vtd_gcmd_locked(u, VTD_GCMD_SRTP, true);
	uvtd_unlock(&u->lock);
	if (rc == 0 && vtd_read64(u, VTD_REG_RTADDR) != rta) {
		VTD_LOG(ERR, u, "RTADDR reads 0x%" PRIx64 " after writing the "
			"blocking root table's 0x%" PRIx64,
			vtd_read64(u, VTD_REG_RTADDR), rta);
		rc = -EIO;
	}
	return rc;
}

static void unit_free(struct vtd_unit *u, bool keep_root)
{
	vtd_tables_fini(u, keep_root);
	vtd_pt_pool_destroy(u);
	free(u->did_bitmap);
	vtd_regs_release(u);
	vtd_emu_release(u);
	rte_free(u);
}

int vtd_unit_open(const struct vtd_unit_params *p, struct vtd_unit **out)
{
	struct vtd_unit *u;
	uint32_t gsts;
	int rc;

	if (out == NULL) {
		VTD_LOG(ERR, (struct vtd_unit *)NULL, "unit open: out is NULL");
		return -EINVAL;
	}
	*out = NULL;
	rc = params_check_basic(p);
	if (rc)
		return rc;

	u = rte_zmalloc_socket("vtd_unit", sizeof(*u), RTE_CACHE_LINE_SIZE,
			       p->socket_id);
	if (u == NULL) {
		rte_log(RTE_LOG_ERR, vtd_logtype, "vtd %s: no memory for the "
			"unit\n", p->name);
		return -ENOMEM;
	}
	snprintf(u->name, sizeof(u->name), "%s", p->name);
	u->win = p->win;
	u->real_hw = p->real_hw;
	u->timeout_ns = p->timeout_ns ? p->timeout_ns : VTD_DEFAULT_TIMEOUT_NS;
	u->socket_id = p->socket_id;
	u->disable_te_on_close = p->disable_translation_on_close;
	u->psi_threshold = VTD_DEFAULT_PSI_THRESHOLD;
	uvtd_lock_init(&u->lock);

	u->ver = vtd_read32(u, VTD_REG_VER);
	u->cap = vtd_read64(u, VTD_REG_CAP);
	u->ecap = vtd_read64(u, VTD_REG_ECAP);
	rc = params_check_caps(u, p);
	if (rc)
		goto fail;

	/* Physical addresses have 52 bits in every entry format (§9). */
	u->haw = p->haw ? p->haw
			: RTE_MIN((unsigned int)VTD_CAP_MGAW(u->cap), 52u);
	if (u->haw < 32 || u->haw > 52) {
		VTD_LOG(ERR, u, "host address width %u: need 32..52 bits",
			u->haw);
		rc = -EINVAL;
		goto fail;
	}
	u->nr_domain_ids = 1u << (4 + 2 * VTD_CAP_ND(u->cap));
	u->did_bitmap = calloc((u->nr_domain_ids + 63) / 64, sizeof(uint64_t));
	if (u->did_bitmap == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Under caching mode the unit tags cached not-present and faulting
	 * entries with domain id 0 (§6.1): never hand it out. */
	if (u->cap & VTD_CAP_CM)
		u->did_bitmap[0] |= 1;

	/* Take over the persistent command bits the unit reports. */
	gsts = vtd_read32(u, VTD_REG_GSTS);
	u->gcmd = gsts & VTD_GCMD_PERSISTENT;
	u->te = (gsts & VTD_GSTS_TES) != 0;
	if (gsts & VTD_GSTS_QIES) {
		/* IQA/IQT may be programmed only with QI off (§6.5.2). Give
		 * the unit a chance to finish what is queued first, as Linux's
		 * dmar_disable_qi does. */
		uint64_t deadline = vtd_now_ns() + u->timeout_ns;

		VTD_LOG(NOTICE, u,
			"queued invalidation was on: turning it off");
		while (vtd_read64(u, VTD_REG_IQH) !=
			       vtd_read64(u, VTD_REG_IQT) &&
		       !(vtd_read32(u, VTD_REG_FSTS) & VTD_FSTS_ERRORS) &&
		       vtd_now_ns() < deadline)
			rte_pause();
		uvtd_lock(&u->lock);
		rc = vtd_gcmd_locked(u, VTD_GCMD_QIE, false);
		uvtd_unlock(&u->lock);
		if (rc)
			goto fail;
	}

	rc = vtd_pt_pool_create(u);
	if (rc)
		goto fail;
	rc = vtd_tables_init(u);
	if (rc)
		goto fail;
	rc = unit_set_root(u);
	if (rc)
		goto fail;
	rc = vtd_qi_init(u, p->qi_entries ? p->qi_entries
					  : VTD_DEFAULT_QI_ENTRIES,
			 u->queued ? VTD_INVAL_QUEUED : VTD_INVAL_REGISTER);
	if (rc) {
		VTD_LOG(ERR, u, "invalidation engine: %s", strerror(-rc));
		goto fail;
	}
	if (!(u->cap & VTD_CAP_ESRTPS)) {
		rc = unit_flush_all(u);
		if (rc) {
			VTD_LOG(ERR, u, "global invalidation after SRTP: %s",
				strerror(-rc));
			goto fail_qi;
		}
	}
	if (p->enable_translation && !u->te) {
		uvtd_lock(&u->lock);
		rc = vtd_gcmd_locked(u, VTD_GCMD_TE, true);
		if (rc == 0)
			u->te = true;
		uvtd_unlock(&u->lock);
		if (rc)
			goto fail_qi;
	}
	VTD_LOG(INFO, u, "up: %s mode, %s invalidation, %scoherent walks, "
		"translation %s, CAP 0x%016" PRIx64 " ECAP 0x%016" PRIx64,
		u->scalable ? "scalable" : "legacy",
		u->queued ? "queued" : "register-based",
		u->coherent ? "" : "non-", u->te ? "on" : "off", u->cap,
		u->ecap);
	*out = u;
	return 0;

fail_qi:
	vtd_qi_fini(u);
fail:
	/* With translation on, the unit may already walk our root table. */
	unit_free(u, u->te && u->root.va != NULL);
	return rc;
}

int vtd_unit_close(struct vtd_unit *u)
{
	uint64_t blocking = 0;
	bool keep_root, parked = false;
	int rc = 0;

	if (u == NULL) {
		VTD_LOG(ERR, (struct vtd_unit *)NULL, "unit close: NULL unit");
		return -EINVAL;
	}
	vtd_tables_lock(u);
	if (u->nr_domains) {
		vtd_tables_unlock(u);
		VTD_LOG(ERR, u,
			"close: %" PRIu32 " domains still use the unit: "
			"detach and destroy them first",
			u->nr_domains);
		return -EBUSY;
	}
	vtd_tables_unlock(u);

	/* Every device context gone: clear all root entries so that the
	 * unit finds nothing, whatever was left (detach cleared the context
	 * entries already). */
	memset(u->root.va, 0, 4096);
	vtd_flush_cache_range(u, u->root.va, 4096);
	/* A real unit that stays translating must not be left walking this
	 * process's memory: park it on the blocking root table while the
	 * queue still works for the invalidations that follow. */
	if (u->te && u->real_hw && !u->disable_te_on_close) {
		int r = unit_park(u, &blocking);

		parked = r == 0;
		if (!parked)
			VTD_LOG(ERR, u, "close: could not point the unit at a "
				"blocking root table that outlives this process "
				"(%s): translation stays on with every entry of "
				"this process's root table at 0x%" PRIx64
				" cleared, but that memory is freed when the "
				"process exits and may then be reused. Mount "
				"hugetlbfs (2 MiB pages, e.g. at /dev/hugepages) "
				"with one free hugepage for the next close, and "
				"start the next uvtd before this process exits",
				strerror(-r),
				u->root.iova);
	}
	/* After SRTP the caches may hold entries of the old root table
	 * (§6.5.3.x), unless CAP.ESRTPS says SRTP invalidated them. */
	if (!parked || !(u->cap & VTD_CAP_ESRTPS)) {
		rc = unit_flush_all(u);
		if (rc)
			VTD_LOG(ERR, u, "close: global invalidation: %s",
				strerror(-rc));
	}
	if (u->te && u->disable_te_on_close) {
		uvtd_lock(&u->lock);
		if (vtd_gcmd_locked(u, VTD_GCMD_TE, false) == 0)
			u->te = false;
		uvtd_unlock(&u->lock);
	}
	vtd_qi_fini(u);
	/* With translation on the unit keeps walking the (empty) root
	 * table: it must stay valid while the unit lives. An emulated unit
	 * we own dies with us. */
	keep_root = u->te && !u->owns_emu && !parked;
	if (parked)
		VTD_LOG(NOTICE, u, "closed with translation on: DMA blocked "
			"by the blocking root table at 0x%" PRIx64
			" (outlives this process)", blocking);
	else if (keep_root && u->real_hw)
		VTD_LOG(NOTICE, u, "closed with translation on and every "
			"context cleared: DMA blocked; the root table at 0x%"
			PRIx64 " is kept (it stays valid only while this "
			"process lives)", u->root.iova);
	else if (keep_root)
		VTD_LOG(INFO, u, "closed with translation on, DMA blocked; "
			"root table at 0x%" PRIx64 " kept", u->root.iova);
	else
		VTD_LOG(INFO, u, "closed");
	unit_free(u, keep_root);
	return rc;
}

int vtd_unit_get_info(const struct vtd_unit *u, struct vtd_unit_info *info)
{
	uint64_t cap, ecap, sagaw;

	if (u == NULL || info == NULL) {
		VTD_LOG(ERR, u, "unit info: NULL %s", u ? "info" : "unit");
		return -EINVAL;
	}
	cap = u->cap;
	ecap = u->ecap;
	sagaw = VTD_CAP_SAGAW(cap);
	memset(info, 0, sizeof(*info));
	info->name = u->name;
	info->ver = u->ver;
	info->cap = cap;
	info->ecap = ecap;
	info->scalable = u->scalable;
	info->queued = u->queued;
	info->translation_enabled =
		(vtd_read32(u, VTD_REG_GSTS) & VTD_GSTS_TES) != 0;
	info->coherent = u->coherent;
	info->caching_mode = (cap & VTD_CAP_CM) != 0;
	info->rwbf = (cap & VTD_CAP_RWBF) != 0;
	info->psi = (cap & VTD_CAP_PSI) != 0;
	info->mamv = (unsigned int)VTD_CAP_MAMV(cap);
	info->domain_ids = u->nr_domain_ids;
	info->widths = (unsigned int)((sagaw >> 1) & 7);
	info->sl_2m = (VTD_CAP_SLLPS(cap) & 1) != 0;
	info->sl_1g = (VTD_CAP_SLLPS(cap) & 2) != 0;
	info->fl_1g = (cap & VTD_CAP_FL1GP) != 0;
	info->first_stage = u->scalable && (ecap & VTD_ECAP_FLTS);
	info->second_stage = !u->scalable || (ecap & VTD_ECAP_SLTS);
	info->pass_through = (ecap & VTD_ECAP_PT) != 0;
	info->devtlb = (ecap & VTD_ECAP_DT) != 0;
	info->pasid = u->scalable && (ecap & VTD_ECAP_PASID);
	info->snoop = (ecap & VTD_ECAP_SC) != 0;
	info->fault_records = (unsigned int)VTD_CAP_NFR(cap);
	if (u->queued) {
		uint64_t iqa = vtd_read64(u, VTD_REG_IQA);
		unsigned int dbytes = (iqa & VTD_IQA_DW) ? 32 : 16;

		info->desc_bytes = dbytes;
		info->qi_entries = (uint32_t)((4096ull << (iqa & 7)) / dbytes);
	}
	return 0;
}
