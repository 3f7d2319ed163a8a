/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu fault status and primary fault recording (VT-d spec §7.2, §7.3,
 * §11.4.9.1 FSTS, §11.4.9.2 FECTL, §11.4.14 FRCD), and the invalidation
 * completion status (§11.4.9.7 ICS, §11.4.9.8 IECTL).
 *
 * FSTS, FECTL, IQER and the fault records are changed under fault_lock
 * only: the back end records faults from DMA threads without reg_lock,
 * while the queue engine raises IQE/ITE/ICE with reg_lock held (lock order
 * reg_lock -> fault_lock). ICS/IECTL are only touched with reg_lock held.
 *
 * No interrupt is ever delivered (there is no MSI target): "delivering"
 * the fault event only means FECTL.IP is not left set, as the
 * specification describes for IM=0 (§7.3).
 */
#include "vtdemu_fe.h"

#define FSTS_EVENTS (FSTS_PFO | FSTS_PPF | FSTS_AFO | FSTS_APF | FSTS_IQE | \
		     FSTS_ICE | FSTS_ITE | FSTS_PRO)

/* §7.3: a fault event is generated when a status bit gets set while none
 * was; with IM set the event stays pending in FECTL.IP. */
static void fault_event_locked(struct vtdemu *emu, uint32_t old_fsts,
			       uint32_t new_fsts)
{
	if ((old_fsts & FSTS_EVENTS) || !(new_fsts & FSTS_EVENTS))
		return;
	uint32_t fectl = reg_rd32(emu, R_FECTL);
	if (fectl & XECTL_IM)
		reg_wr32(emu, R_FECTL, fectl | XECTL_IP);
}

/* FECTL.IP clears once software has cleared every status bit (§11.4.9.2). */
static void fault_ip_update_locked(struct vtdemu *emu)
{
	if (reg_rd32(emu, R_FSTS) & FSTS_EVENTS)
		return;
	uint32_t fectl = reg_rd32(emu, R_FECTL);
	if (fectl & XECTL_IP)
		reg_wr32(emu, R_FECTL, fectl & ~XECTL_IP);
}

void emu_fsts_raise(struct vtdemu *emu, uint32_t bits, uint64_t iqer_set,
		    uint64_t iqer_mask)
{
	pthread_mutex_lock(&emu->fault_lock);
	uint32_t old = reg_rd32(emu, R_FSTS);
	uint64_t iqer = reg_rd64(emu, R_IQER);
	uint64_t keep = 0;

	/* §11.4.9.9: each IQER field is captured only when its status bit
	 * goes from clear to set; it keeps the first error's details. */
	if ((bits & FSTS_IQE) && !(old & FSTS_IQE))
		keep |= IQER_IQEI_MASK;
	if ((bits & FSTS_ITE) && !(old & FSTS_ITE))
		keep |= 0xffffull << IQER_ITESID_SHIFT;
	if ((bits & FSTS_ICE) && !(old & FSTS_ICE))
		keep |= 0xffffull << IQER_ICESID_SHIFT;
	keep &= iqer_mask;
	reg_wr64(emu, R_IQER, (iqer & ~keep) | (iqer_set & keep));
	reg_wr32(emu, R_FSTS, old | bits);
	fault_event_locked(emu, old, old | bits);
	pthread_mutex_unlock(&emu->fault_lock);
}

static bool any_frcd_pending_locked(struct vtdemu *emu)
{
	uint32_t fro = emu_fro_off(emu);
	unsigned int n = emu_nfr(emu);

	for (unsigned int i = 0; i < n; i++)
		if (reg_rd64(emu, fro + 16 * i + 8) & FRCD_HI_F)
			return true;
	return false;
}

void emu_fsts_write(struct vtdemu *emu, uint32_t value)
{
	pthread_mutex_lock(&emu->fault_lock);
	uint32_t fsts = reg_rd32(emu, R_FSTS);

	/* RW1C status bits; PPF and FRI are read-only (PPF follows the F
	 * bits of the records, §11.4.9.1). */
	fsts &= ~(value & FSTS_RW1C);
	reg_wr32(emu, R_FSTS, fsts);
	fault_ip_update_locked(emu);
	pthread_mutex_unlock(&emu->fault_lock);
}

void emu_xectl_write(struct vtdemu *emu, uint32_t off, uint32_t value)
{
	bool fectl = off == R_FECTL;

	if (fectl)
		pthread_mutex_lock(&emu->fault_lock);
	uint32_t old = reg_rd32(emu, off);
	/* IM is read-write, IP read-only. Clearing IM with an event pending
	 * delivers it, which clears IP (§11.4.9.2, §11.4.9.8). */
	uint32_t v = (old & XECTL_IP) | (value & XECTL_IM);
	if (!(v & XECTL_IM))
		v &= ~XECTL_IP;
	reg_wr32(emu, off, v);
	if (fectl)
		pthread_mutex_unlock(&emu->fault_lock);
}

void emu_frcd_write(struct vtdemu *emu, uint32_t off, uint64_t value,
		    unsigned int size)
{
	uint32_t rel = (off - emu_fro_off(emu)) & 15u;
	uint32_t rec = off - rel;
	bool clear_f;

	/* Everything in a record is read-only except F (bit 127), which is
	 * RW1C; it lives in the top dword (+12) or the high qword (+8). */
	if (size == 8 && rel == 8)
		clear_f = value & FRCD_HI_F;
	else if (size == 4 && rel == 12)
		clear_f = value & (1u << 31);
	else
		return;
	if (!clear_f)
		return;

	pthread_mutex_lock(&emu->fault_lock);
	uint64_t hi = reg_rd64(emu, rec + 8);
	if (hi & FRCD_HI_F) {
		reg_wr64(emu, rec + 8, hi & ~FRCD_HI_F);
		if (!any_frcd_pending_locked(emu)) {
			uint32_t fsts = reg_rd32(emu, R_FSTS);
			reg_wr32(emu, R_FSTS, fsts & ~FSTS_PPF);
			fault_ip_update_locked(emu);
		}
	}
	pthread_mutex_unlock(&emu->fault_lock);
}

/* §7.2.1 primary fault logging: the unit keeps an internal index of the
 * next record. If that record still holds a fault (F set), or a previous
 * overflow has not been cleared (PFO set, as QEMU does), the fault is not
 * recorded and PFO is set. Otherwise the record is written, F set, the
 * index advanced (wrapping); PPF is set and, when it was clear, FRI names
 * this record (FRI is the first pending record as of PPF being set). */
void emu_fault_record(struct vtdemu *emu, struct vtdemu_fault_info *fault)
{
	pthread_mutex_lock(&emu->fault_lock);
	uint32_t fsts = reg_rd32(emu, R_FSTS);
	unsigned int idx = emu->frcd_next;
	uint32_t rec = emu_fro_off(emu) + 16u * idx;

	if ((fsts & FSTS_PFO) || (reg_rd64(emu, rec + 8) & FRCD_HI_F)) {
		uint32_t nf = fsts | FSTS_PFO;
		reg_wr32(emu, R_FSTS, nf);
		fault_event_locked(emu, fsts, nf);
		fault->recorded = false;
		pthread_mutex_unlock(&emu->fault_lock);
		EMU_STAT_ADD(emu, faults_overflow, 1);
		return;
	}

	uint64_t hi = (uint64_t)fault->sid |
		((uint64_t)fault->reason << FRCD_HI_FR_SHIFT) | FRCD_HI_F;
	if (fault->pasid != VTDEMU_NO_PASID)
		hi |= FRCD_HI_PP |
		      ((uint64_t)(fault->pasid & 0xfffff) << FRCD_HI_PV_SHIFT);
	/* T (bit 126): 1 = read request, 0 = write request. */
	if (!(fault->access & VTDEMU_ACCESS_WRITE))
		hi |= FRCD_HI_T;
	/* Low qword first: software sees F only when the record is whole. */
	reg_wr64(emu, rec, fault->addr & ~0xfffull);
	reg_wr64(emu, rec + 8, hi);
	emu->frcd_next = (idx + 1) % emu_nfr(emu);

	uint32_t nf = fsts | FSTS_PPF;
	if (!(fsts & FSTS_PPF))
		nf = (nf & ~FSTS_FRI_MASK) | (idx << FSTS_FRI_SHIFT);
	reg_wr32(emu, R_FSTS, nf);
	fault_event_locked(emu, fsts, nf);
	fault->recorded = true;
	pthread_mutex_unlock(&emu->fault_lock);
	EMU_STAT_ADD(emu, faults_recorded, 1);
}

void emu_fault_reset(struct vtdemu *emu)
{
	pthread_mutex_lock(&emu->fault_lock);
	uint32_t fro = emu_fro_off(emu);
	for (unsigned int i = 0; i < emu_nfr(emu); i++) {
		reg_wr64(emu, fro + 16 * i, 0);
		reg_wr64(emu, fro + 16 * i + 8, 0);
	}
	reg_wr32(emu, R_FSTS, 0);
	reg_wr32(emu, R_FECTL, XECTL_IM); /* §11.4.9.2: IM resets to 1 */
	reg_wr64(emu, R_IQER, 0);
	emu->frcd_next = 0;
	pthread_mutex_unlock(&emu->fault_lock);
}

/* Wait descriptor with IF=1 (§6.5.2.9): sets ICS.IWC; the completion
 * event is pending in IECTL.IP while IM is set. A second completion while
 * IWC is still set generates no new event. reg_lock held. */
void emu_ics_raise_iwc(struct vtdemu *emu)
{
	if (reg_rd32(emu, R_ICS) & ICS_IWC)
		return;
	reg_wr32(emu, R_ICS, ICS_IWC);
	uint32_t iectl = reg_rd32(emu, R_IECTL);
	if (iectl & XECTL_IM)
		reg_wr32(emu, R_IECTL, iectl | XECTL_IP);
}

/* ICS.IWC is RW1C; clearing it clears a pending IECTL.IP. reg_lock held. */
void emu_ics_write(struct vtdemu *emu, uint32_t value)
{
	uint32_t ics = reg_rd32(emu, R_ICS) & ~(value & ICS_IWC);

	reg_wr32(emu, R_ICS, ics);
	if (!(ics & ICS_IWC)) {
		uint32_t iectl = reg_rd32(emu, R_IECTL);
		if (iectl & XECTL_IP)
			reg_wr32(emu, R_IECTL, iectl & ~XECTL_IP);
	}
}
