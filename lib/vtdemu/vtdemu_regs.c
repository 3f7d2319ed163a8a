/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu register file: the write semantics of every architectural register
 * (VT-d spec §10.4 and §11.4).
 *
 * The page at emu->regs is what readers see; every write goes through
 * vtdemu_reg_write(), which applies the register's access type:
 *   RO    the write is ignored;
 *   RW    only the implemented bits are stored (reserved bits read 0);
 *   RW1C  writing 1 clears the bit;
 *   WO    the value acts but reads back 0 (GCMD, IVA, CCMD.FM/SID);
 * and runs its side effect (GCMD commands, the IQT doorbell, CCMD/IOTLB
 * register-based invalidation, fault status). Registers of a feature the
 * unit does not report (QI, IR, PRS, AFL, PMR) are reserved: writes are
 * ignored and they read 0.
 *
 * Writes of 4 or 8 bytes at a naturally aligned offset. A 64-bit register
 * may be written one half at a time: a command register (CCMD, IOTLB) acts
 * when its upper half (the one with ICC/IVT) is written, IQT when its lower
 * half (QT) is, as QEMU does. An 8-byte write over two 32-bit registers is
 * two 4-byte writes, low first.
 *
 * All writes run under reg_lock.
 */
#include <string.h>

#include "vtdemu_fe.h"

#define LO32 0x00000000ffffffffull
#define HI32 0xffffffff00000000ull

static bool has(const struct vtdemu *emu, uint64_t ecap_bit)
{
	return (emu->ecap & ecap_bit) != 0;
}

static bool hascap(const struct vtdemu *emu, uint64_t cap_bit)
{
	return (emu->cap & cap_bit) != 0;
}

void emu_regs_reset(struct vtdemu *emu)
{
	memset(emu->regs, 0, emu->regs_size);
	reg_wr32(emu, R_VER, emu->ver);
	reg_wr64(emu, R_CAP, emu->cap);
	reg_wr64(emu, R_ECAP, emu->ecap);
	/* §11.4.9.8, §11.4.11: interrupt masks reset to 1. */
	if (has(emu, ECAP_QI))
		reg_wr32(emu, R_IECTL, XECTL_IM);
	if (has(emu, ECAP_PRS))
		reg_wr32(emu, R_PECTL, XECTL_IM);
	emu_fault_reset(emu);
	__atomic_store_n(&emu->root_table, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&emu->translation_enabled, false, __ATOMIC_RELEASE);
}

/* GCMD (§10.4.4, §11.4.4). Software is told to write one command at a time
 * on top of the persistent bits it reads from GSTS, but Linux writes its own
 * shadow | one command, so several bits may arrive together: a persistent
 * command (TE, EAFL, QIE, IRE, CFI) acts when its bit differs from its
 * status bit; a one-shot command (SRTP, SFL, WBF, SIRTP) acts when set.
 * They are applied in an order that makes a combined write meaningful: the
 * root pointer before translation enable. Every command completes before
 * the write returns, so a status bit is already final when software polls. */
static void gcmd_write(struct vtdemu *emu, uint32_t v)
{
	uint32_t gsts = reg_rd32(emu, R_GSTS);

	if (v & GCMD_SRTP) {
		/* §10.4.6: SRTP latches RTADDR (RTA and TTM) as the root table
		 * used by the hardware; it does not invalidate any cache
		 * unless CAP.ESRTPS says it does (then it invalidates all,
		 * and software may skip its global invalidations). */
		uint64_t rta = reg_rd64(emu, R_RTADDR);
		__atomic_store_n(&emu->root_table, rta, __ATOMIC_RELEASE);
		if (hascap(emu, CAP_ESRTPS))
			emu_inv_all(emu);
		gsts |= GSTS_RTPS;
	}
	if ((v & GCMD_SFL) && hascap(emu, CAP_AFL))
		gsts |= GSTS_FLS;
	if (((v ^ gsts) & GCMD_EAFL) && hascap(emu, CAP_AFL))
		gsts ^= GSTS_AFLS;
	if (v & GCMD_WBF) {
		/* §6.8: the flush completes at once (the emulator has no write
		 * buffer), so WBFS is set and cleared within this write and
		 * software polling for WBFS == 0 sees it done. With RWBF=0
		 * the command is ignored (the spec says software need not
		 * issue it); it is counted so tests can see needless
		 * flushes. */
		if (hascap(emu, CAP_RWBF))
			EMU_STAT_ADD(emu, wbf, 1);
		else
			EMU_STAT_ADD(emu, wbf_ignored, 1);
	}
	if (((v ^ gsts) & GCMD_QIE) && has(emu, ECAP_QI)) {
		if (emu_qi_set_enable(emu, (v & GCMD_QIE) != 0))
			gsts |= GSTS_QIES;
		else
			gsts &= ~GSTS_QIES;
	}
	if (has(emu, ECAP_IR)) {
		/* Interrupt remapping is not modelled beyond its status: the
		 * pointer is latched (IRTPS) and IRE/CFI reflected. */
		if (v & GCMD_SIRTP)
			gsts |= GSTS_IRTPS;
		if ((v ^ gsts) & GCMD_IRE)
			gsts ^= GSTS_IRES;
		if ((v ^ gsts) & GCMD_CFI)
			gsts ^= GSTS_CFIS;
	}
	if ((v ^ gsts) & GCMD_TE) {
		/* §10.4.4: TE takes effect for requests after the status
		 * change; caches are not invalidated by it. */
		bool en = (v & GCMD_TE) != 0;
		__atomic_store_n(&emu->translation_enabled, en,
				 __ATOMIC_RELEASE);
		gsts ^= GSTS_TES;
	}
	reg_wr32(emu, R_GSTS, gsts);
}

/* Stores the RW bits of a 64-bit register written in the halves of sel. */
static uint64_t store64(struct vtdemu *emu, uint32_t off, uint64_t v,
			uint64_t sel, uint64_t rw)
{
	uint64_t old = reg_rd64(emu, off);
	uint64_t m = sel & rw;
	uint64_t nv = (old & ~m) | (v & m);

	reg_wr64(emu, off, nv);
	return nv;
}

static void store32(struct vtdemu *emu, uint32_t off, uint32_t v,
		    uint32_t rw)
{
	uint32_t old = reg_rd32(emu, off);

	reg_wr32(emu, off, (old & ~rw) | (v & rw));
}

static bool in_frcd(const struct vtdemu *emu, uint32_t off)
{
	uint32_t fro = emu_fro_off(emu);

	return off >= fro && off < fro + 16u * emu_nfr(emu);
}

/* A write to (a half of) the 64-bit register at base. Returns false when
 * base is not a 64-bit register. */
static bool write64(struct vtdemu *emu, uint32_t base, uint64_t v,
		    uint64_t sel)
{
	uint32_t iro = emu_iro_off(emu);
	bool qi = has(emu, ECAP_QI);

	if (base == iro) {
		/* IVA (§11.4.8.2) is write-only: it is kept for the next
		 * IOTLB command and reads 0. */
		emu->qi->iva = (emu->qi->iva & ~(sel & IVA_RW)) |
			       (v & sel & IVA_RW);
		return true;
	}
	if (base == iro + 8) {
		/* IOTLB register (§11.4.8.1): IAIG is read-only. The command
		 * runs when the upper half (IVT) is written. */
		store64(emu, base, v, sel, IOTLB_RW);
		if ((sel & HI32) && (reg_rd64(emu, base) & IOTLB_IVT))
			emu_iotlb_reg_written(emu);
		return true;
	}

	switch (base) {
	case R_CAP:
	case R_ECAP:
	case R_IQH:
	case R_IQER:
	case R_PQT:
		return true; /* read-only */
	case R_RTADDR: {
		/* §11.4.6: TTM (11:10) exists only with scalable mode;
		 * legacy-only units treat it as reserved. */
		uint64_t rw = RTADDR_RTA |
			(has(emu, ECAP_SMTS) ? RTADDR_TTM : 0);
		store64(emu, base, v, sel, rw);
		return true;
	}
	case R_CCMD: {
		/* §11.4.7.1: FM and SID are write-only; CAIG read-only. */
		uint64_t wo = (3ull << 32) | (0xffffull << 16);
		struct emu_qi *q = emu->qi;
		q->ccmd_wo = (q->ccmd_wo & ~(sel & CCMD_RW)) |
			     (v & sel & CCMD_RW);
		uint64_t old = reg_rd64(emu, base);
		reg_wr64(emu, base, (old & CCMD_CAIG_MASK) |
			 (q->ccmd_wo & ~wo));
		if ((sel & HI32) && (q->ccmd_wo & CCMD_ICC))
			emu_ccmd_written(emu);
		return true;
	}
	case R_AFLOG:
		if (hascap(emu, CAP_AFL))
			store64(emu, base, v, sel, 0xfffffffffffffe00ull);
		return true;
	case R_PHMBASE:
	case R_PHMLIMIT:
		if (hascap(emu, CAP_PHMR))
			store64(emu, base, v, sel, ~0xfffffull);
		return true;
	case R_IQT:
		if (!qi)
			return true;
		store64(emu, base, v, sel, IQ_QH_MASK);
		/* The doorbell is QT (bits 18:4): a write of the upper half
		 * alone (reserved bits) rings nothing. */
		if (sel & LO32)
			emu_qi_iqt_written(emu);
		return true;
	case R_IQA:
		if (!qi)
			return true;
		/* §11.4.9.5: DW (bit 11) is reserved unless ECAP.SMTS, as
		 * QEMU honours it only in scalable-capable units. */
		store64(emu, base, v, sel, IQA_ADDR | 7ull |
			(has(emu, ECAP_SMTS) ? IQA_DW : 0));
		return true;
	case R_IRTA:
		if (has(emu, ECAP_IR))
			store64(emu, base, v, sel, 0xfffffffffffff00full |
				(has(emu, ECAP_EIM) ? 0x800ull : 0));
		return true;
	case R_PQH:
		if (has(emu, ECAP_PRS))
			store64(emu, base, v, sel, 0x7ffe0ull);
		return true;
	case R_PQA:
		if (has(emu, ECAP_PRS))
			store64(emu, base, v, sel, 0xfffffffffffff007ull);
		return true;
	default:
		return false;
	}
}

static void write32(struct vtdemu *emu, uint32_t off, uint32_t v)
{
	bool qi = has(emu, ECAP_QI), prs = has(emu, ECAP_PRS);
	bool eim = has(emu, ECAP_EIM);

	switch (off) {
	case R_GCMD:
		gcmd_write(emu, v);
		return;
	case R_FSTS: {
		uint32_t before = reg_rd32(emu, R_FSTS);
		emu_fsts_write(emu, v);
		/* Clearing ITE lets the queue go on (§6.5.2.10); clearing IQE
		 * does not: fetching resumes at the next IQT write (QEMU's
		 * behaviour; the spec asks software to write IQT again). */
		if ((before & FSTS_ITE) && !(reg_rd32(emu, R_FSTS) & FSTS_ITE))
			emu_qi_kick(emu);
		return;
	}
	case R_FECTL:
		emu_xectl_write(emu, off, v);
		return;
	case R_FEDATA:
		store32(emu, off, v, 0xffffu | (eim ? 0xffff0000u : 0));
		return;
	case R_FEADDR:
		store32(emu, off, v, 0xfffffffcu);
		return;
	case R_FEUADDR:
		store32(emu, off, v, eim ? 0xffffffffu : 0);
		return;
	case R_PMEN:
		/* §11.4.13: EPM with PRS (bit 0) reporting it at once. */
		if (hascap(emu, CAP_PLMR) || hascap(emu, CAP_PHMR))
			reg_wr32(emu, off, (v & (1u << 31)) ? 0x80000001u : 0);
		return;
	case R_PLMBASE:
	case R_PLMLIMIT:
		if (hascap(emu, CAP_PLMR))
			store32(emu, off, v, 0xffe00000u);
		return;
	case R_ICS:
		if (qi)
			emu_ics_write(emu, v);
		return;
	case R_IECTL:
		if (qi)
			emu_xectl_write(emu, off, v);
		return;
	case R_IEDATA:
		if (qi)
			store32(emu, off, v, 0xffffu | (eim ? 0xffff0000u : 0));
		return;
	case R_IEADDR:
		if (qi)
			store32(emu, off, v, 0xfffffffcu);
		return;
	case R_IEUADDR:
		if (qi)
			store32(emu, off, v, eim ? 0xffffffffu : 0);
		return;
	case R_PRS:
		if (prs)
			reg_wr32(emu, off, reg_rd32(emu, off) & ~(v & 3u));
		return;
	case R_PECTL:
		if (prs)
			emu_xectl_write(emu, off, v);
		return;
	case R_PEDATA:
	case R_PEUADDR:
		if (prs)
			store32(emu, off, v, 0xffffffffu);
		return;
	case R_PEADDR:
		if (prs)
			store32(emu, off, v, 0xfffffffcu);
		return;
	default:
		/* VER, GSTS and everything reserved or not modelled. */
		return;
	}
}

static void write_dword(struct vtdemu *emu, uint32_t off, uint32_t v)
{
	if (in_frcd(emu, off)) {
		emu_frcd_write(emu, off, v, 4);
		return;
	}
	/* A half of a 64-bit register? */
	uint32_t base = off & ~7u;
	uint64_t sel = (off & 4) ? HI32 : LO32;
	uint64_t val = (off & 4) ? (uint64_t)v << 32 : v;
	if (write64(emu, base, val, sel))
		return;
	write32(emu, off, v);
}

void vtdemu_reg_write(struct vtdemu *emu, uint32_t offset, uint64_t value,
		      unsigned int size)
{
	if (emu == NULL || (size != 4 && size != 8) ||
	    (offset & (size - 1)) || (size_t)offset + size > emu->regs_size)
		return;

	pthread_mutex_lock(&emu->reg_lock);
	if (size == 4) {
		write_dword(emu, offset, (uint32_t)value);
	} else if (in_frcd(emu, offset)) {
		emu_frcd_write(emu, offset, value, 8);
	} else if (!write64(emu, offset, value, ~0ull)) {
		write_dword(emu, offset, (uint32_t)value);
		write_dword(emu, offset + 4, (uint32_t)(value >> 32));
	}
	pthread_mutex_unlock(&emu->reg_lock);
}

void vtdemu_reg_write_hook(void *emu, uint32_t offset, uint64_t value,
			   unsigned int size)
{
	vtdemu_reg_write(emu, offset, value, size);
}

uint64_t vtdemu_reg_read(struct vtdemu *emu, uint32_t offset,
			 unsigned int size)
{
	if (emu == NULL || (size != 4 && size != 8) ||
	    (offset & (size - 1)) || (size_t)offset + size > emu->regs_size)
		return UINT64_MAX;
	return size == 4 ? reg_rd32(emu, offset) : reg_rd64(emu, offset);
}

volatile void *vtdemu_regs(struct vtdemu *emu)
{
	return emu->regs;
}

size_t vtdemu_regs_size(const struct vtdemu *emu)
{
	return emu->regs_size;
}
