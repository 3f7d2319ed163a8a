/* SPDX-License-Identifier: BSD-3-Clause
 * The conformance case list: register access semantics, invalidation
 * descriptor acceptance and rejection, and translation faults, each with
 * the outcome the VT-d specification (rev 4.x; section numbers as in
 * drivers/iommu/vtd/vtd_hw.h) asks for.
 *
 * A case runs its actions through conf.h and records observations; the
 * runner compares them with .expect. Where QEMU 7.2 departs from the
 * specification, .qemu names the departure (docs/qemu-departures.md has
 * its evidence) and gives the values QEMU shows instead.
 *
 * Keys used by many cases:
 *   fsts.iqe       FSTS.IQE after the doorbell
 *   iqh.slot       the descriptor slot IQH points at
 *   wait.done      the status write of the case's final wait happened
 *   fsts.* frcd0.* see conf_obs_fault()
 */
#include "conf.h"

#include <string.h>

#include "drivers/iommu/vtd/vtd_hw.h"

#define DW_MARK 0xabcd1234u
#define SID CONF_SID

/* ------------------------------------------------------------------------
 * Registers (§11.4)
 */

/* A read-only register keeps its value whatever is written to it, as a
 * whole or by halves (§11.4: RO). */
static void ro_check(struct conf_ctx *c, uint32_t off, bool wide,
		     const char *key)
{
	uint64_t before = wide ? rd64(c, off) : rd32(c, off);

	if (wide) {
		wr64(c, off, ~before);
		wr32(c, off, ~(uint32_t)before);
		wr32(c, off + 4, ~(uint32_t)(before >> 32));
	} else {
		wr32(c, off, ~(uint32_t)before);
	}
	obs(c, key, (wide ? rd64(c, off) : rd32(c, off)) != before);
}

static void run_ver_ro(struct conf_ctx *c)
{
	ro_check(c, VTD_REG_VER, false, "ver.changed");
}

static void run_cap_ro(struct conf_ctx *c)
{
	ro_check(c, VTD_REG_CAP, true, "cap.changed");
}

static void run_ecap_ro(struct conf_ctx *c)
{
	ro_check(c, VTD_REG_ECAP, true, "ecap.changed");
}

/* GSTS is read-only: writing it commands nothing (§11.4.4.2). */
static void run_gsts_ro(struct conf_ctx *c)
{
	uint32_t before = rd32(c, VTD_REG_GSTS);

	wr32(c, VTD_REG_GSTS, 0xffffffffu);
	obs(c, "gsts.changed", rd32(c, VTD_REG_GSTS) != before);
	obs(c, "gsts.tes", !!(rd32(c, VTD_REG_GSTS) & VTD_GSTS_TES));
}

/* SRTP latches RTADDR and reports RTPS (§10.4.4, §11.4.4). */
static void run_srtp_rtps(struct conf_ctx *c)
{
	if (!conf_root_new(c) || !conf_set_root(c, c->root))
		return;
	obs(c, "gsts.rtps", !!(rd32(c, VTD_REG_GSTS) & VTD_GSTS_RTPS));
	obs(c, "gsts.tes", !!(rd32(c, VTD_REG_GSTS) & VTD_GSTS_TES));
	obs(c, "rtaddr.is_root", rd64(c, VTD_REG_RTADDR) == c->root);
}

/* RTADDR: RTA 63:12 read back as written; bits 9:0 are reserved and read
 * 0 (§11.4.5). (TTM 11:10 is left alone: its values depend on SMTS.) */
static void run_rtaddr_rsvd(struct conf_ctx *c)
{
	uint64_t pa = conf_alloc(c, 4096, 4096, NULL);
	uint64_t v;

	wr64(c, VTD_REG_RTADDR, pa | 0x3ff);
	v = rd64(c, VTD_REG_RTADDR);
	obs(c, "rtaddr.rta_ok", (v & VTD_PAGE_MASK) == pa);
	obs(c, "rtaddr.bits9_0", v & 0x3ff);
}

/* TE on and off, reported in TES (§10.4.4). */
static void run_te_on_off(struct conf_ctx *c)
{
	if (!conf_root_new(c) || !conf_set_root(c, c->root) ||
	    !conf_gcmd(c, (uint32_t)VTD_GCMD_TE, 0))
		return;
	obs(c, "gsts.tes", !!(rd32(c, VTD_REG_GSTS) & VTD_GSTS_TES));
	if (!conf_gcmd(c, 0, (uint32_t)VTD_GCMD_TE))
		return;
	obs(c, "gsts.tes_after_off", !!(rd32(c, VTD_REG_GSTS) & VTD_GSTS_TES));
}

/* QIE: QIES set, IQH at 0 (§10.4.4, §6.5.2). */
static void run_qie_on(struct conf_ctx *c)
{
	if (!conf_qi_enable(c, 0, false))
		return;
	obs(c, "gsts.qies", !!(rd32(c, VTD_REG_GSTS) & VTD_GSTS_QIES));
	obs(c, "iqh", rd64(c, VTD_REG_IQH));
}

/* Disabling QI with the queue idle clears QIES and resets IQH to 0
 * (§11.4.9.1: IQH "is reset to 0 when QIES is cleared"). */
static void run_qie_off_resets_iqh(struct conf_ctx *c)
{
	if (!conf_qi_enable(c, 0, false))
		return;
	obs(c, "wait.done", conf_qi_sync(c) == 0);
	obs(c, "iqh.before", rd64(c, VTD_REG_IQH));
	if (!conf_gcmd(c, 0, (uint32_t)VTD_GCMD_QIE))
		return;
	obs(c, "gsts.qies", !!(rd32(c, VTD_REG_GSTS) & VTD_GSTS_QIES));
	obs(c, "iqh", rd64(c, VTD_REG_IQH));
}

/* IQA: address and QS read back as written (§11.4.9.3). */
static void run_iqa_readback(struct conf_ctx *c)
{
	uint64_t pa = conf_alloc(c, 4096, 4096, NULL);

	wr64(c, VTD_REG_IQA, pa | VTD_IQA_QS(3));
	obs(c, "iqa.written", pa | VTD_IQA_QS(3));
	obs(c, "iqa", rd64(c, VTD_REG_IQA));
	obs(c, "iqa.is_written", rd64(c, VTD_REG_IQA) == (pa | VTD_IQA_QS(3)));
}

/* IQA.DW reads back on a unit with scalable mode (§11.4.9.3). */
static void run_iqa_dw_readback(struct conf_ctx *c)
{
	uint64_t pa = conf_alloc(c, 8192, 4096, NULL);

	wr64(c, VTD_REG_IQA, pa | VTD_IQA_DW | VTD_IQA_QS(1));
	obs(c, "iqa.written", pa | VTD_IQA_DW | VTD_IQA_QS(1));
	obs(c, "iqa", rd64(c, VTD_REG_IQA));
	obs(c, "iqa.dw", !!(rd64(c, VTD_REG_IQA) & VTD_IQA_DW));
}

/* Without ECAP.SMTS the queue holds 128-bit descriptors whatever IQA.DW
 * says (§11.4.9.3: DW=1 needs SMTS): IQT counts 16-byte slots. */
static void run_dw_ignored_without_smts(struct conf_ctx *c)
{
	struct conf_queue *q = &c->q;
	void *va;
	struct vtd_desc d = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);
	uint32_t seq = 0x5a00beef;

	q->base = conf_alloc(c, 4096, 4096, &va);
	q->va = va;
	q->status_pa = conf_alloc(c, 64, 64, &va);
	q->status = va;
	if (q->base == 0 || q->status_pa == 0)
		return;
	q->slots = 256;
	q->dw = false;
	wr64(c, VTD_REG_IQT, 0);
	wr64(c, VTD_REG_IQA, q->base | VTD_IQA_DW);
	if (!conf_gcmd(c, (uint32_t)VTD_GCMD_QIE, 0))
		return;
	conf_qi_put(c, d.qw[0], d.qw[1]);
	d = vtd_desc_wait(VTD_WAIT_SW, seq, q->status_pa);
	conf_qi_put(c, d.qw[0], d.qw[1]);
	wr64(c, VTD_REG_IQT, 2u << VTD_IQ_SHIFT_128);
	obs(c, "wait.done", *q->status == seq);
	obs(c, "fsts.iqe", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_IQE));
	obs(c, "iqh", rd64(c, VTD_REG_IQH));
}

/* FSTS status bits are RW1C; writing 1 to a clear bit does nothing, and
 * PPF and FRI are read-only (§11.4.7.1). */
static void run_fsts_rw1c_clear(struct conf_ctx *c)
{
	wr32(c, VTD_REG_FSTS, 0xffffffffu);
	obs(c, "fsts", rd32(c, VTD_REG_FSTS));
}

/* FECTL and IECTL reset with IM set and IP clear (§11.4.7.2,
 * §11.4.9.6). */
static void run_fectl_reset(struct conf_ctx *c)
{
	uint32_t v = rd32(c, VTD_REG_FECTL);

	obs(c, "fectl.im", !!(v & VTD_ECTL_IM));
	obs(c, "fectl.ip", !!(v & VTD_ECTL_IP));
}

static void run_iectl_reset(struct conf_ctx *c)
{
	uint32_t v = rd32(c, VTD_REG_IECTL);

	obs(c, "iectl.im", !!(v & VTD_ECTL_IM));
	obs(c, "iectl.ip", !!(v & VTD_ECTL_IP));
}

/* Register-based context-cache invalidation with QI off: ICC clears when
 * done and CAIG reports the granularity performed (§11.4.6). */
static void ccmd(struct conf_ctx *c, unsigned int g, uint16_t did)
{
	uint64_t v;

	wr64(c, VTD_REG_CCMD, VTD_CCMD_ICC | VTD_CCMD_CIRG(g) |
	     VTD_CCMD_DID(did));
	v = rd64(c, VTD_REG_CCMD);
	obs(c, "ccmd.icc", !!(v & VTD_CCMD_ICC));
	obs(c, "ccmd.caig", VTD_CCMD_CAIG(v));
	/* §6.5.1.1: the unit may perform a coarser invalidation than asked
	 * (global for domain, say) and reports what it did in CAIG. */
	obs(c, "ccmd.caig_covers", VTD_CCMD_CAIG(v) >= 1 &&
	    VTD_CCMD_CAIG(v) <= g);
}

static void run_ccmd_global(struct conf_ctx *c)
{
	ccmd(c, VTD_CC_GLOBAL, 0);
}

static void run_ccmd_domain(struct conf_ctx *c)
{
	ccmd(c, VTD_CC_DOMAIN, 5);
}

/* Register-based IOTLB invalidation (§11.4.8.1): IVT clears when done,
 * IAIG reports what was performed, 0 when nothing was (an address mask
 * above CAP.MAMV). */
static void iotlb_reg(struct conf_ctx *c, unsigned int g, uint64_t iva)
{
	uint32_t off = iotlb_reg_off(c);
	uint64_t v;

	wr64(c, (uint32_t)VTD_ECAP_IRO(c->ecap) + VTD_IOTLB_REG_IVA, iva);
	wr64(c, off, VTD_IOTLB_IVT | VTD_IOTLB_IIRG(g) | VTD_IOTLB_DID(1));
	v = rd64(c, off);
	obs(c, "iotlb.ivt", !!(v & VTD_IOTLB_IVT));
	obs(c, "iotlb.iaig", VTD_IOTLB_IAIG(v));
	/* §6.5.1.2: as for CCMD, a coarser granularity may be performed. */
	obs(c, "iotlb.iaig_covers", VTD_IOTLB_IAIG(v) >= 1 &&
	    VTD_IOTLB_IAIG(v) <= g);
}

static void run_iotlb_reg_global(struct conf_ctx *c)
{
	iotlb_reg(c, VTD_INV_GLOBAL, 0);
}

static void run_iotlb_reg_domain(struct conf_ctx *c)
{
	iotlb_reg(c, VTD_INV_DOMAIN, 0);
}

static void run_iotlb_reg_psi_am_too_big(struct conf_ctx *c)
{
	iotlb_reg(c, VTD_INV_PAGE, VTD_IVA_AM(VTD_CAP_MAMV(c->cap) + 1));
}

/* §6.5.2: software must not use register-based invalidation while QI is
 * on. The specification leaves the unit's answer open; both units refuse
 * and leave the command pending, which is what a driver must expect. */
static void run_ccmd_refused_under_qi(struct conf_ctx *c)
{
	uint64_t v;

	if (!conf_qi_enable(c, 0, false))
		return;
	wr64(c, VTD_REG_CCMD, VTD_CCMD_ICC | VTD_CCMD_CIRG(VTD_CC_GLOBAL));
	v = rd64(c, VTD_REG_CCMD);
	obs(c, "ccmd.icc", !!(v & VTD_CCMD_ICC));
}

static void run_iotlb_refused_under_qi(struct conf_ctx *c)
{
	uint32_t off = iotlb_reg_off(c);

	if (!conf_qi_enable(c, 0, false))
		return;
	wr64(c, off, VTD_IOTLB_IVT | VTD_IOTLB_IIRG(VTD_INV_GLOBAL));
	obs(c, "iotlb.ivt", !!(rd64(c, off) & VTD_IOTLB_IVT));
}

/* ------------------------------------------------------------------------
 * Queued invalidation (§6.5.2)
 */

/* Observes the common outcome keys after a doorbell. */
static void qi_outcome(struct conf_ctx *c, uint32_t seq)
{
	obs(c, "fsts.iqe", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_IQE));
	obs(c, "iqh.slot", conf_iqh_slot(c));
	obs(c, "wait.done", *c->q.status == seq);
}

/* Slot 0: a valid global context-cache invalidation; slot 1: the
 * descriptor under test; slot 2: a status-write wait; then the doorbell. */
static void desc_case(struct conf_ctx *c, bool dw, const uint64_t qw[4])
{
	struct vtd_desc d = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);
	uint32_t seq = DW_MARK;

	if (!conf_qi_enable(c, 0, dw))
		return;
	conf_qi_put(c, d.qw[0], d.qw[1]);
	conf_qi_put256(c, qw);
	d = vtd_desc_wait(VTD_WAIT_SW, seq, c->q.status_pa);
	conf_qi_put(c, d.qw[0], d.qw[1]);
	conf_qi_doorbell(c);
	qi_outcome(c, seq);
}

static void desc128(struct conf_ctx *c, struct vtd_desc d)
{
	desc_case(c, false, d.qw);
}

static void run_wait_status(struct conf_ctx *c)
{
	if (!conf_qi_enable(c, 0, false))
		return;
	/* The word after the status word must stay as it is: the status
	 * write is 32 bits (§6.5.2.8). */
	c->q.status[1] = 0x77777777u;
	obs(c, "wait.done", conf_qi_sync(c) == 0);
	obs(c, "wait.data", *c->q.status);
	obs(c, "wait.next_word", c->q.status[1]);
	obs(c, "iqh.slot", conf_iqh_slot(c));
	obs(c, "fsts", rd32(c, VTD_REG_FSTS));
}

/* §6.5.2.8: IF=1 sets ICS.IWC; with IECTL.IM set the event is pending in
 * IECTL.IP; clearing IWC (RW1C) clears IP (§11.4.9.4, §11.4.9.6). */
static void run_wait_if_iwc(struct conf_ctx *c)
{
	struct vtd_desc d = vtd_desc_wait(VTD_WAIT_IF, 0, 0);

	if (!conf_qi_enable(c, 0, false))
		return;
	conf_qi_put(c, d.qw[0], d.qw[1]);
	conf_qi_doorbell(c);
	obs(c, "iqh.slot", conf_iqh_slot(c));
	obs(c, "ics.iwc", rd32(c, VTD_REG_ICS) & VTD_ICS_IWC);
	obs(c, "iectl.ip", !!(rd32(c, VTD_REG_IECTL) & VTD_ECTL_IP));
	wr32(c, VTD_REG_ICS, (uint32_t)VTD_ICS_IWC);
	obs(c, "ics.iwc_after_clear", rd32(c, VTD_REG_ICS) & VTD_ICS_IWC);
	obs(c, "iectl.ip_after_clear",
	    !!(rd32(c, VTD_REG_IECTL) & VTD_ECTL_IP));
}

/* §6.5.2.8: a wait with neither SW nor IF is valid (FN orders what
 * follows; nothing is written). */
static void run_wait_fence_only(struct conf_ctx *c)
{
	desc128(c, vtd_desc_wait(VTD_WAIT_FN, 0, 0));
}

#define VALID_DESC { { "fsts.iqe", 0 }, { "iqh.slot", 3 }, { "wait.done", 1 } }
#define IQE_AT_1   { { "fsts.iqe", 1 }, { "iqh.slot", 1 }, { "wait.done", 0 } }

static void run_cc_global(struct conf_ctx *c)
{
	desc128(c, vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0));
}

static void run_cc_domain(struct conf_ctx *c)
{
	desc128(c, vtd_desc_cc(VTD_CC_DOMAIN, 7, 0, 0));
}

static void run_cc_device(struct conf_ctx *c)
{
	desc128(c, vtd_desc_cc(VTD_CC_DEVICE, 7, SID, 0));
}

static void run_iotlb_global(struct conf_ctx *c)
{
	desc128(c, vtd_desc_iotlb(VTD_INV_GLOBAL, 0, 0, 0, 0, 0, 0));
}

static void run_iotlb_domain(struct conf_ctx *c)
{
	desc128(c, vtd_desc_iotlb(VTD_INV_DOMAIN, 7, 0, 0, 0, 0, 0));
}

static void run_iotlb_psi(struct conf_ctx *c)
{
	desc128(c, vtd_desc_iotlb(VTD_INV_PAGE, 7, 0x200000, 1, 1, 0, 0));
}

static void run_devtlb(struct conf_ctx *c)
{
	desc128(c, vtd_desc_devtlb(SID, 0, 0, 0x10000, 0));
}

/* §6.5.2.1: context-cache descriptor bits 15:6 (qw0) and all of qw1 are
 * reserved; granularity 0 is reserved. §6.5.2.10: an invalid descriptor
 * sets IQE and IQH stays at it. */
static void run_cc_rsvd_qw0(struct conf_ctx *c)
{
	struct vtd_desc d = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);

	d.qw[0] |= VTD_BIT(6);
	desc128(c, d);
}

static void run_cc_rsvd_qw1(struct conf_ctx *c)
{
	struct vtd_desc d = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);

	d.qw[1] = 1;
	desc128(c, d);
}

static void run_cc_gran0(struct conf_ctx *c)
{
	desc128(c, vtd_desc_cc(0, 0, 0, 0));
}

/* §6.5.2.3: IOTLB descriptor qw0 bits 15:8 and 63:32, qw1 bits 11:7 are
 * reserved; granularity 0 is reserved. */
static void run_iotlb_rsvd_qw0(struct conf_ctx *c)
{
	struct vtd_desc d = vtd_desc_iotlb(VTD_INV_GLOBAL, 0, 0, 0, 0, 0, 0);

	d.qw[0] |= VTD_BIT(8);
	desc128(c, d);
}

static void run_iotlb_rsvd_qw1(struct conf_ctx *c)
{
	struct vtd_desc d = vtd_desc_iotlb(VTD_INV_PAGE, 7, 0x200000, 0, 0, 0, 0);

	d.qw[1] |= VTD_BIT(7);
	desc128(c, d);
}

static void run_iotlb_gran0(struct conf_ctx *c)
{
	desc128(c, vtd_desc_iotlb(0, 0, 0, 0, 0, 0, 0));
}

/* §6.5.2.3: AM must not exceed CAP.MAMV. */
static void run_iotlb_psi_am_too_big(struct conf_ctx *c)
{
	desc128(c, vtd_desc_iotlb(VTD_INV_PAGE, 7, 0, (unsigned int)
				  VTD_CAP_MAMV(c->cap) + 1, 0, 0, 0));
}

/* §6.5.2.8: wait descriptor qw0 bits 31:8 (outside the type) reserved;
 * the status address is 4-byte aligned (qw1 bits 1:0 reserved). */
static void run_wait_rsvd_qw0(struct conf_ctx *c)
{
	uint64_t st = conf_alloc(c, 64, 64, NULL);
	struct vtd_desc d = vtd_desc_wait(VTD_WAIT_SW, 1, st);

	d.qw[0] |= VTD_BIT(8);
	desc128(c, d);
}

static void run_wait_rsvd_qw1(struct conf_ctx *c)
{
	uint64_t st = conf_alloc(c, 64, 64, NULL);
	struct vtd_desc d = vtd_desc_wait(VTD_WAIT_SW, 1, st);

	/* vtd_desc_wait aligns the address: plant the bit after it. */
	d.qw[1] |= 1;
	desc128(c, d);
}

/* §6.5.2: type 0 and types the unit does not implement are invalid. */
static void run_type0(struct conf_ctx *c)
{
	struct vtd_desc d = { { 0, 0, 0, 0 } };

	desc128(c, d);
}

static void run_type_unknown(struct conf_ctx *c)
{
	/* Type 0x1f: 0xf in 3:0 and 1 in the high bits 11:9. */
	struct vtd_desc d = { { 0xf | VTD_SET(1, 11, 9), 0, 0, 0 } };

	desc128(c, d);
}

/* §6.5.2.7: interrupt entry cache invalidation exists only with
 * interrupt remapping (ECAP.IR). */
static void run_iec_without_ir(struct conf_ctx *c)
{
	desc128(c, vtd_desc_iec(0, 0, 0));
}

/* §6.5.2.4, §6.5.2.2: PASID-based descriptors are 256-bit only: in a
 * 128-bit queue (or on a unit without scalable mode) they are invalid. */
static void run_piotlb_in_128(struct conf_ctx *c)
{
	desc128(c, vtd_desc_piotlb(VTD_PIOTLB_PASID, 1, 0, 0, 0, 0));
}

static void run_pc_in_128(struct conf_ctx *c)
{
	desc128(c, vtd_desc_pc(VTD_PC_GLOBAL, 0, 0));
}

/* §11.4.9.2, §6.5.2.10: a tail beyond the queue raises IQE; nothing is
 * fetched. */
static void run_iqt_beyond_queue(struct conf_ctx *c)
{
	if (!conf_qi_enable(c, 0, false))
		return;
	wr64(c, VTD_REG_IQT, 256u << VTD_IQ_SHIFT_128);
	obs(c, "fsts.iqe", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_IQE));
	obs(c, "iqh", rd64(c, VTD_REG_IQH));
}

/* §11.4.9.2: with 256-bit descriptors IQT bit 4 is reserved: IQE. */
static void run_iqt_dw_bit4(struct conf_ctx *c)
{
	if (!conf_qi_enable(c, 0, true))
		return;
	wr64(c, VTD_REG_IQT, 0x10);
	obs(c, "fsts.iqe", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_IQE));
	obs(c, "iqh", rd64(c, VTD_REG_IQH));
}

/* §11.4.9.9 IQER.IQEI: the reason of the first invalid-queue error (1 bad
 * tail, 3 invalid type, 4 reserved field). */
static void run_iqer_tail(struct conf_ctx *c)
{
	run_iqt_beyond_queue(c);
	obs(c, "iqer.iqei", VTD_IQER_IQEI(rd64(c, VTD_REG_IQER)));
}

static void run_iqer_type(struct conf_ctx *c)
{
	run_type0(c);
	obs(c, "iqer.iqei", VTD_IQER_IQEI(rd64(c, VTD_REG_IQER)));
}

static void run_iqer_rsvd(struct conf_ctx *c)
{
	run_cc_rsvd_qw1(c);
	obs(c, "iqer.iqei", VTD_IQER_IQEI(rd64(c, VTD_REG_IQER)));
}

/* §6.5.2.10: after IQE the unit fetches nothing (an IQT write does not
 * restart it) until software clears IQE; then the next IQT write goes on
 * from IQH, which stayed at the bad descriptor. IQE is RW1C. */
static void run_iqe_sticky(struct conf_ctx *c)
{
	struct vtd_desc bad = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);
	struct vtd_desc good = bad, w;
	uint32_t seq = DW_MARK;

	if (!conf_qi_enable(c, 0, false))
		return;
	bad.qw[1] = 1;
	conf_qi_put(c, bad.qw[0], bad.qw[1]);
	conf_qi_doorbell(c);
	obs(c, "fsts.iqe", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_IQE));
	/* Repair the descriptor, add a wait, ring while IQE is set. */
	conf_store64(c->q.va + 8, good.qw[1]);
	w = vtd_desc_wait(VTD_WAIT_SW, seq, c->q.status_pa);
	conf_qi_put(c, w.qw[0], w.qw[1]);
	conf_qi_doorbell(c);
	obs(c, "wait.done_while_iqe", *c->q.status == seq);
	obs(c, "iqh.slot_while_iqe", conf_iqh_slot(c));
	wr32(c, VTD_REG_FSTS, (uint32_t)VTD_FSTS_IQE);
	obs(c, "fsts.iqe_after_clear",
	    !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_IQE));
	conf_qi_doorbell(c);
	obs(c, "wait.done", *c->q.status == seq);
	obs(c, "iqh.slot", conf_iqh_slot(c));
}

/* §6.5.2.10: descriptors before the invalid one were processed: a wait
 * ahead of it wrote its status. */
static void run_iqe_earlier_done(struct conf_ctx *c)
{
	uint64_t st;
	void *va;
	struct vtd_desc w, bad = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);

	if (!conf_qi_enable(c, 0, false))
		return;
	st = conf_alloc(c, 64, 64, &va);
	if (st == 0)
		return;
	w = vtd_desc_wait(VTD_WAIT_SW, 0x1234, st);
	bad.qw[1] = 1;
	conf_qi_put(c, w.qw[0], w.qw[1]);
	conf_qi_put(c, bad.qw[0], bad.qw[1]);
	conf_qi_doorbell(c);
	obs(c, "first.done", *(volatile uint32_t *)va == 0x1234);
	obs(c, "fsts.iqe", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_IQE));
	obs(c, "iqh.slot", conf_iqh_slot(c));
}

/* §7.3, §11.4.7.2: IQE is a fault event; with FECTL.IM set it is left
 * pending in FECTL.IP, which clears once software clears the status. */
static void run_iqe_fault_event(struct conf_ctx *c)
{
	run_cc_rsvd_qw1(c);
	obs(c, "fectl.ip", !!(rd32(c, VTD_REG_FECTL) & VTD_ECTL_IP));
	wr32(c, VTD_REG_FSTS, (uint32_t)VTD_FSTS_IQE);
	obs(c, "fectl.ip_after_clear",
	    !!(rd32(c, VTD_REG_FECTL) & VTD_ECTL_IP));
}

/* IQH moves past every descriptor done (§11.4.9.1). */
static void run_iqh_batch(struct conf_ctx *c)
{
	struct vtd_desc d = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);

	if (!conf_qi_enable(c, 0, false))
		return;
	for (int i = 0; i < 3; i++)
		conf_qi_put(c, d.qw[0], d.qw[1]);
	obs(c, "wait.done", conf_qi_sync(c) == 0);
	obs(c, "iqh.slot", conf_iqh_slot(c));
}

/* The queue is circular (§6.5.2): a run that crosses its end wraps. */
static void run_queue_wrap(struct conf_ctx *c)
{
	struct vtd_desc d = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);

	if (!conf_qi_enable(c, 0, false))
		return;
	for (int i = 0; i < 250; i++)
		conf_qi_put(c, d.qw[0], d.qw[1]);
	obs(c, "wait1.done", conf_qi_sync(c) == 0);
	for (int i = 0; i < 10; i++)
		conf_qi_put(c, d.qw[0], d.qw[1]);
	obs(c, "wait.done", conf_qi_sync(c) == 0);
	obs(c, "iqh.slot", conf_iqh_slot(c));
	obs(c, "fsts.iqe", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_IQE));
}

/* 256-bit queue (IQA.DW=1, §6.5.2): IQH/IQT count 32-byte slots. */
static void run_dw_wait(struct conf_ctx *c)
{
	if (!conf_qi_enable(c, 0, true))
		return;
	obs(c, "wait.done", conf_qi_sync(c) == 0);
	obs(c, "iqh", rd64(c, VTD_REG_IQH));
}

/* §6.5.2: a 128-bit descriptor in a 256-bit queue has its upper 128 bits
 * zero; anything there is a reserved-field violation. */
static void run_dw_cc_upper_nonzero(struct conf_ctx *c)
{
	struct vtd_desc d = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);

	d.qw[2] = 1;
	desc_case(c, true, d.qw);
}

static void run_dw_piotlb(struct conf_ctx *c)
{
	struct vtd_desc d = vtd_desc_piotlb(VTD_PIOTLB_PASID, 1, 0, 0, 0, 0);

	desc_case(c, true, d.qw);
}

static void run_dw_pc_global(struct conf_ctx *c)
{
	struct vtd_desc d = vtd_desc_pc(VTD_PC_GLOBAL, 0, 0);

	desc_case(c, true, d.qw);
}

/* §6.5.2.2: PASID-cache granularity 2 is reserved. */
static void run_dw_pc_gran2(struct conf_ctx *c)
{
	struct vtd_desc d = vtd_desc_pc(2, 0, 0);

	desc_case(c, true, d.qw);
}

/* ------------------------------------------------------------------------
 * Translation and faults (§3, §7, Appendix A), through DMA of the device
 * with requester id SID.
 */
#define IOVA_R 0x00123000ull /* reads (at +0x100) */
#define IOVA_W 0x00456000ull /* writes */
#define DMA_LEN 64u

static void fill(void *va, unsigned int seed)
{
	uint8_t *p = va;

	for (unsigned int i = 0; i < 4096; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

/* A root with no context for anyone, set, queue on, caches flushed,
 * translation on. */
static bool bare_setup(struct conf_ctx *c)
{
	struct vtd_desc d;

	if (!conf_root_new(c) || !conf_set_root(c, c->root) ||
	    !conf_qi_enable(c, 0, false))
		return false;
	d = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);
	conf_qi_put(c, d.qw[0], d.qw[1]);
	d = vtd_desc_iotlb(VTD_INV_GLOBAL, 0, 0, 0, 0, 0, 0);
	conf_qi_put(c, d.qw[0], d.qw[1]);
	if (conf_qi_sync(c) != 0)
		return conf_error(c, "global invalidations failed");
	return conf_gcmd(c, (uint32_t)VTD_GCMD_TE, 0);
}

static void read_fault(struct conf_ctx *c)
{
	if (conf_dma(c, false, IOVA_R + 0x100, DMA_LEN, 0))
		conf_obs_fault(c);
}

/* Translation off (§10.4.4 TE=0): DMA addresses are physical. */
static void run_dma_te_off(struct conf_ctx *c)
{
	void *src, *dst;
	uint64_t ps = conf_alloc(c, 4096, 4096, &src);
	uint64_t pd = conf_alloc(c, 4096, 4096, &dst);

	if (ps == 0 || pd == 0)
		return;
	fill(src, 1);
	if (!conf_dma(c, false, ps, DMA_LEN, 0) ||
	    !conf_dma(c, true, pd, DMA_LEN, 0))
		return;
	obs(c, "data.ok", memcmp(src, dst, DMA_LEN) == 0);
	conf_obs_fault(c);
}

/* A mapped read and a mapped write (§3.6): the data goes where the leaves
 * say, nothing is recorded. */
static void run_dma_translate(struct conf_ctx *c)
{
	struct conf_pt pt;
	void *src, *dst;
	uint64_t ps = conf_alloc(c, 4096, 4096, &src);
	uint64_t pd = conf_alloc(c, 4096, 4096, &dst);

	if (ps == 0 || pd == 0 || !conf_translate_setup(c, &pt, 1) ||
	    !conf_pt_map(c, &pt, IOVA_R, ps, VTD_SL_R) ||
	    !conf_pt_map(c, &pt, IOVA_W, pd, VTD_SL_W))
		return;
	fill(src, 2);
	if (!conf_dma(c, false, IOVA_R + 0x100, DMA_LEN, 0) ||
	    !conf_dma(c, true, IOVA_W + 0x80, DMA_LEN, 0))
		return;
	obs(c, "data.ok", memcmp((uint8_t *)src + 0x100,
				 (uint8_t *)dst + 0x80, DMA_LEN) == 0);
	conf_obs_fault(c);
}

#define NO_FAULT { "fsts.ppf", 0 }, { "frcd0.f", 0 }
#define FAULT(fr, fi, t) { "fsts.ppf", 1 }, { "fsts.pfo", 0 }, \
	{ "fsts.fri", 0 }, { "frcd0.f", 1 }, { "frcd0.fr", fr }, \
	{ "frcd0.sid", SID }, { "frcd0.fi", fi }, { "frcd0.t", t }

/* §3.6, §9.8: a second-stage entry with PS=1 at level 2 maps 2 MiB (with
 * CAP.SLLPS bit 0); the page offset is the low 21 bits of the address. */
#define IOVA_2M 0x40000000ull

static bool map_2m(struct conf_ctx *c, struct conf_pt *pt, uint64_t pa,
		   uint64_t extra)
{
	uint64_t *e = conf_pt_entry(c, pt, IOVA_2M, 2);

	if (e == NULL)
		return false;
	conf_store64(e, pa | VTD_SL_R | VTD_SL_W | VTD_SL_PS | extra);
	return true;
}

static void run_dma_2m_superpage(struct conf_ctx *c)
{
	struct conf_pt pt;
	void *big, *dst;
	uint64_t pb = conf_alloc(c, 2u << 20, 2u << 20, &big);
	uint64_t pd = conf_alloc(c, 4096, 4096, &dst);

	if (pb == 0 || pd == 0 || !conf_translate_setup(c, &pt, 20) ||
	    !map_2m(c, &pt, pb, 0) ||
	    !conf_pt_map(c, &pt, IOVA_W, pd, VTD_SL_W))
		return;
	fill((uint8_t *)big + 0x123000, 8);
	if (!conf_dma(c, false, IOVA_2M + 0x123100, DMA_LEN, 0) ||
	    !conf_dma(c, true, IOVA_W, DMA_LEN, 0))
		return;
	obs(c, "data.ok", memcmp((uint8_t *)big + 0x123100, dst, DMA_LEN) == 0);
	conf_obs_fault(c);
}

/* §9.8: in a 2 MiB leaf, address bits 20:12 are reserved: 0Ch. */
static void run_fault_2m_rsvd(struct conf_ctx *c)
{
	struct conf_pt pt;
	uint64_t pb = conf_alloc(c, 2u << 20, 2u << 20, NULL);

	if (pb == 0 || !conf_translate_setup(c, &pt, 21) ||
	    !map_2m(c, &pt, pb, VTD_BIT(12)))
		return;
	if (conf_dma(c, false, IOVA_2M + 0x100, DMA_LEN, 0))
		conf_obs_fault(c);
}

/* §3.6: the access rights are those of every level together: a write
 * through a read-only non-leaf entry faults (05h) even with a writable
 * leaf. */
static void run_fault_nonleaf_ro(struct conf_ctx *c)
{
	struct conf_pt pt;
	uint64_t *pde;
	void *va;
	uint64_t pa = conf_alloc(c, 4096, 4096, &va);

	if (pa == 0 || !conf_translate_setup(c, &pt, 22) ||
	    !conf_pt_map(c, &pt, IOVA_W, pa, VTD_SL_R | VTD_SL_W))
		return;
	pde = conf_pt_entry(c, &pt, IOVA_W, 2);
	if (pde == NULL)
		return;
	conf_store64(pde, *pde & ~VTD_SL_W);
	fill(va, 9);
	if (!conf_dma(c, true, IOVA_W, DMA_LEN, 0))
		return;
	conf_obs_fault(c);
	obs(c, "mem.touched", ((uint8_t *)va)[0] != (uint8_t)9);
}

/* §10.4.4: once TE is cleared, DMA is no longer translated. */
static void run_dma_te_off_after_on(struct conf_ctx *c)
{
	struct conf_pt pt;
	void *src, *dst;
	uint64_t ps = conf_alloc(c, 4096, 4096, &src);
	uint64_t pd = conf_alloc(c, 4096, 4096, &dst);

	/* Translation on with nothing mapped, then off: the physical
	 * addresses must work again. */
	if (ps == 0 || pd == 0 || !conf_translate_setup(c, &pt, 23) ||
	    !conf_gcmd(c, 0, (uint32_t)VTD_GCMD_TE))
		return;
	fill(src, 10);
	if (!conf_dma(c, false, ps, DMA_LEN, 0) ||
	    !conf_dma(c, true, pd, DMA_LEN, 0))
		return;
	obs(c, "data.ok", memcmp(src, dst, DMA_LEN) == 0);
	conf_obs_fault(c);
}

/* Appendix A 01h: the root entry is not present. */
static void run_fault_root_np(struct conf_ctx *c)
{
	if (bare_setup(c))
		read_fault(c);
}

/* 02h: the context entry is not present. */
static void run_fault_ctx_np(struct conf_ctx *c)
{
	if (bare_setup(c) && conf_context_set(c, SID, 0, 0))
		read_fault(c);
}

/* App. A 02h is a qualified fault: FPD in a not-present context entry
 * still suppresses its recording (§7.1.2). */
static void run_fault_ctx_np_fpd(struct conf_ctx *c)
{
	if (bare_setup(c) && conf_context_set(c, SID, VTD_CTX_FPD, 0))
		read_fault(c);
}

/* Context TT (§9.3): 10b pass-through needs ECAP.PT (then DMA addresses
 * are used untranslated); 01b (device TLB) needs ECAP.DT; 11b is
 * reserved. An unsupported or reserved TT is fault 03h. */
static void run_ctx_tt_passthrough(struct conf_ctx *c)
{
	struct conf_pt pt;
	void *src, *dst;
	uint64_t ps = conf_alloc(c, 4096, 4096, &src);
	uint64_t pd = conf_alloc(c, 4096, 4096, &dst);

	if (ps == 0 || pd == 0 || !bare_setup(c) || !conf_pt_new(c, &pt) ||
	    !conf_context_set(c, SID, VTD_CTX_P |
			      VTD_CTX_TT(VTD_CTX_TT_PT), conf_ctx_hi(&pt, 18)))
		return;
	fill(src, 7);
	if (!conf_dma(c, false, ps, DMA_LEN, 0) ||
	    !conf_dma(c, true, pd, DMA_LEN, 0))
		return;
	obs(c, "data.ok", memcmp(src, dst, DMA_LEN) == 0);
	conf_obs_fault(c);
}

static void ctx_tt_fault(struct conf_ctx *c, unsigned int tt)
{
	struct conf_pt pt;

	if (!bare_setup(c) || !conf_pt_new(c, &pt) ||
	    !conf_pt_map(c, &pt, IOVA_R, conf_alloc(c, 4096, 4096, NULL),
			 VTD_SL_R) ||
	    !conf_context_set(c, SID, (conf_ctx_lo(&pt) & ~VTD_CTX_TT(3)) |
			      VTD_CTX_TT(tt), conf_ctx_hi(&pt, 19)))
		return;
	read_fault(c);
}

/* TT=01b with ECAP.DT: untranslated requests are translated as with
 * TT=00b (§9.3). */
static void run_ctx_tt_devtlb(struct conf_ctx *c)
{
	struct conf_pt pt;
	void *src, *dst;
	uint64_t ps = conf_alloc(c, 4096, 4096, &src);
	uint64_t pd = conf_alloc(c, 4096, 4096, &dst);

	if (ps == 0 || pd == 0 || !bare_setup(c) || !conf_pt_new(c, &pt) ||
	    !conf_pt_map(c, &pt, IOVA_R, ps, VTD_SL_R) ||
	    !conf_pt_map(c, &pt, IOVA_W, pd, VTD_SL_W) ||
	    !conf_context_set(c, SID, (conf_ctx_lo(&pt) & ~VTD_CTX_TT(3)) |
			      VTD_CTX_TT(VTD_CTX_TT_DEVTLB),
			      conf_ctx_hi(&pt, 24)))
		return;
	fill(src, 11);
	if (!conf_dma(c, false, IOVA_R, DMA_LEN, 0) ||
	    !conf_dma(c, true, IOVA_W, DMA_LEN, 0))
		return;
	obs(c, "data.ok", memcmp(src, dst, DMA_LEN) == 0);
	conf_obs_fault(c);
}

static void run_ctx_tt_devtlb_without_dt(struct conf_ctx *c)
{
	ctx_tt_fault(c, VTD_CTX_TT_DEVTLB);
}

static void run_ctx_tt_reserved(struct conf_ctx *c)
{
	ctx_tt_fault(c, 3);
}

/* 03h: the context entry's AW is a width SAGAW does not support. */
static void run_fault_ctx_aw(struct conf_ctx *c)
{
	struct conf_pt pt;
	unsigned int sagaw = (unsigned int)VTD_CAP_SAGAW(c->cap), aw;

	for (aw = VTD_AGAW_39; aw <= VTD_AGAW_57; aw++)
		if (!(sagaw & (1u << aw)))
			break;
	if (!bare_setup(c) || !conf_pt_new(c, &pt))
		return;
	if (!conf_context_set(c, SID, conf_ctx_lo(&pt),
			      VTD_CTX_HI_AW(aw) | VTD_CTX_HI_DID(3)))
		return;
	read_fault(c);
}

/* 04h: the address is beyond the context's address width. */
static void run_fault_addr_width(struct conf_ctx *c)
{
	struct conf_pt pt;
	uint64_t iova;

	if (!conf_translate_setup(c, &pt, 4))
		return;
	iova = 1ull << (12 + 9 * pt.levels);
	if (!conf_dma(c, false, iova + 0x100, DMA_LEN, 0))
		return;
	conf_obs_fault(c);
	obs(c, "frcd0.fi_is_iova", rd64(c, frcd_off(c, 0)) == iova);
}

/* 05h: a write through a read-only leaf; nothing is written. */
static void run_fault_write_ro(struct conf_ctx *c)
{
	struct conf_pt pt;
	void *va;
	uint64_t pa = conf_alloc(c, 4096, 4096, &va);

	if (pa == 0 || !conf_translate_setup(c, &pt, 5) ||
	    !conf_pt_map(c, &pt, IOVA_W, pa, VTD_SL_R))
		return;
	fill(va, 5);
	if (!conf_dma(c, true, IOVA_W, DMA_LEN, 0))
		return;
	conf_obs_fault(c);
	obs(c, "mem.touched", ((uint8_t *)va)[0] != (uint8_t)5);
}

/* 06h: a read through a write-only leaf. */
static void run_fault_read_wo(struct conf_ctx *c)
{
	struct conf_pt pt;
	uint64_t pa = conf_alloc(c, 4096, 4096, NULL);

	if (pa != 0 && conf_translate_setup(c, &pt, 6) &&
	    conf_pt_map(c, &pt, IOVA_R, pa, VTD_SL_W))
		read_fault(c);
}

/* §9.8: a second-stage entry with neither R nor W is not present: the
 * access faults as a read (06h) or a write (05h). */
static void run_fault_leaf_np_read(struct conf_ctx *c)
{
	struct conf_pt pt;

	/* Map a neighbour so that the tables down to the leaf exist. */
	if (conf_translate_setup(c, &pt, 7) &&
	    conf_pt_map(c, &pt, IOVA_R + 0x1000, conf_alloc(c, 4096, 4096,
							     NULL), VTD_SL_R))
		read_fault(c);
}

static void run_fault_leaf_np_write(struct conf_ctx *c)
{
	struct conf_pt pt;

	if (conf_translate_setup(c, &pt, 8) &&
	    conf_pt_map(c, &pt, IOVA_W + 0x1000, conf_alloc(c, 4096, 4096,
							     NULL), VTD_SL_W) &&
	    conf_dma(c, true, IOVA_W, DMA_LEN, 0))
		conf_obs_fault(c);
}

/* 0Ah: a reserved bit set in a present root entry (§9.1: bits 11:1). */
static void run_fault_root_rsvd(struct conf_ctx *c)
{
	struct conf_pt pt;
	uint64_t *re;

	if (!conf_translate_setup(c, &pt, 9))
		return;
	re = conf_root_entry(c, 0);
	if (re == NULL)
		return;
	conf_store64(re, re[0] | VTD_BIT(1));
	read_fault(c);
}

/* 0Bh: a reserved bit set in a present context entry (§9.3: lo 11:4). */
static void run_fault_ctx_rsvd(struct conf_ctx *c)
{
	struct conf_pt pt;

	if (!bare_setup(c) || !conf_pt_new(c, &pt) ||
	    !conf_context_set(c, SID, conf_ctx_lo(&pt) | VTD_BIT(4),
			      conf_ctx_hi(&pt, 10)))
		return;
	read_fault(c);
}

/* 0Ch: a reserved bit in a present paging entry (§9.8: address bits
 * above the host address width; bit 50 is above every width here). */
static void run_fault_pte_rsvd(struct conf_ctx *c)
{
	struct conf_pt pt;
	uint64_t pa = conf_alloc(c, 4096, 4096, NULL);

	if (pa != 0 && conf_translate_setup(c, &pt, 11) &&
	    conf_pt_map(c, &pt, IOVA_R, pa, VTD_SL_R | VTD_BIT(50)))
		read_fault(c);
}

/* §7.1, §9.3 FPD: with fault processing disabled in the context entry,
 * a translation fault is not recorded. */
static void run_fault_fpd(struct conf_ctx *c)
{
	struct conf_pt pt;

	if (!bare_setup(c) || !conf_pt_new(c, &pt) ||
	    !conf_pt_map(c, &pt, IOVA_R + 0x1000, conf_alloc(c, 4096, 4096,
							       NULL), VTD_SL_R) ||
	    !conf_context_set(c, SID, conf_ctx_lo(&pt) | VTD_CTX_FPD,
			      conf_ctx_hi(&pt, 12)))
		return;
	read_fault(c);
}

/* §11.4.14: F is RW1C; FSTS.PPF clears when no record holds a fault. */
static void run_frcd_clear(struct conf_ctx *c)
{
	if (!bare_setup(c))
		return;
	read_fault(c);
	wr32(c, frcd_off(c, 0) + 12, 1u << 31);
	obs(c, "frcd0.f_after_clear",
	    !!(rd64(c, frcd_off(c, 0) + 8) & VTD_FRCD_HI_F));
	obs(c, "fsts.ppf_after_clear",
	    !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_PPF));
}

/* §7.2.1, §11.4.14: while the record at the unit's index holds a fault
 * (F=1) a new fault is not written over it: either it overflows (PFO) or,
 * as F's description allows, it is collapsed into the pending record of
 * the same source id. Both are conformant, so only the kept first record
 * is checked; fsts.pfo is observed for the report (the emulator sets
 * PFO, QEMU collapses). */
static void run_fault_overflow(struct conf_ctx *c)
{
	if (!bare_setup(c))
		return;
	read_fault(c);
	if (!conf_dma(c, false, IOVA_W, DMA_LEN, 0))
		return;
	conf_obs_fault(c);
}

/* §7.3, §11.4.7.2: a recorded fault is a fault event, pending in
 * FECTL.IP while IM is set; IP clears when software has serviced the
 * status (F of the record, then FSTS). */
static void run_fault_event(struct conf_ctx *c)
{
	if (!bare_setup(c))
		return;
	read_fault(c);
	obs(c, "fectl.ip", !!(rd32(c, VTD_REG_FECTL) & VTD_ECTL_IP));
	wr32(c, frcd_off(c, 0) + 12, 1u << 31);
	wr32(c, VTD_REG_FSTS, 0xff);
	obs(c, "fectl.ip_after_service",
	    !!(rd32(c, VTD_REG_FECTL) & VTD_ECTL_IP));
}

/* §11.4.14: a fault record is read-only except F (RW1C). */
static void run_frcd_ro(struct conf_ctx *c)
{
	uint32_t off = frcd_off(c, 0);
	uint64_t lo, hi;

	if (!bare_setup(c))
		return;
	read_fault(c);
	lo = rd64(c, off);
	hi = rd64(c, off + 8);
	wr64(c, off, ~lo);
	wr32(c, off + 8, ~(uint32_t)hi);
	obs(c, "frcd0.lo_changed", rd64(c, off) != lo);
	obs(c, "frcd0.hi_changed", rd64(c, off + 8) != hi);
}

/* §7.2.1: once software clears F, the record takes the next fault (with
 * one record the index wraps to it). */
static void run_frcd_reuse(struct conf_ctx *c)
{
	if (!bare_setup(c))
		return;
	read_fault(c);
	wr32(c, frcd_off(c, 0) + 12, 1u << 31);
	wr32(c, VTD_REG_FSTS, 0xff);
	if (conf_dma(c, true, IOVA_W, DMA_LEN, 0))
		conf_obs_fault(c);
}

/* §6.1: without caching mode the unit does not cache not-present (or
 * erroneous) entries, so making an entry present needs no invalidation. */
static void run_nocm_leaf_np(struct conf_ctx *c)
{
	struct conf_pt pt;
	uint64_t pa = conf_alloc(c, 4096, 4096, NULL);

	if (pa == 0 || !conf_translate_setup(c, &pt, 16) ||
	    !conf_pt_map(c, &pt, IOVA_R + 0x1000, pa, VTD_SL_R) ||
	    !conf_dma(c, false, IOVA_R, DMA_LEN, 0))
		return;
	obs(c, "first.fault", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_PPF));
	wr32(c, frcd_off(c, 0) + 12, 1u << 31);
	wr32(c, VTD_REG_FSTS, 0xff);
	if (!conf_pt_map(c, &pt, IOVA_R, pa, VTD_SL_R) ||
	    !conf_dma(c, false, IOVA_R, DMA_LEN, 0))
		return;
	obs(c, "second.fault", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_PPF));
}

static void run_nocm_ctx_np(struct conf_ctx *c)
{
	struct conf_pt pt;
	uint64_t pa = conf_alloc(c, 4096, 4096, NULL);

	if (pa == 0 || !bare_setup(c) || !conf_pt_new(c, &pt) ||
	    !conf_pt_map(c, &pt, IOVA_R, pa, VTD_SL_R) ||
	    !conf_context_set(c, SID, 0, 0) ||
	    !conf_dma(c, false, IOVA_R, DMA_LEN, 0))
		return;
	obs(c, "first.fr", VTD_FRCD_HI_FR(rd64(c, frcd_off(c, 0) + 8)));
	wr32(c, frcd_off(c, 0) + 12, 1u << 31);
	wr32(c, VTD_REG_FSTS, 0xff);
	if (!conf_context_set(c, SID, conf_ctx_lo(&pt), conf_ctx_hi(&pt, 17)) ||
	    !conf_dma(c, false, IOVA_R, DMA_LEN, 0))
		return;
	obs(c, "second.fault", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_PPF));
}

/* §6.1 caching mode: with CAP.CM=1 a unit may cache not-present and
 * erroneous entries, so software must invalidate after making an entry
 * present. The emulator models the caching; the outcome without the
 * invalidation is the cached fault, and after a page-selective (or
 * domain) invalidation the new leaf is used. */
static void run_cm_not_present_cached(struct conf_ctx *c)
{
	struct conf_pt pt;
	struct vtd_desc d;
	uint64_t pa = conf_alloc(c, 4096, 4096, NULL);

	if (pa == 0 || !conf_translate_setup(c, &pt, 13) ||
	    !conf_pt_map(c, &pt, IOVA_R + 0x1000, pa, VTD_SL_R) ||
	    !conf_dma(c, false, IOVA_R, DMA_LEN, 0))
		return;
	obs(c, "first.fault", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_PPF));
	wr32(c, frcd_off(c, 0) + 12, 1u << 31);
	wr32(c, VTD_REG_FSTS, 0xff);
	/* Present now, no invalidation. */
	if (!conf_pt_map(c, &pt, IOVA_R, pa, VTD_SL_R) ||
	    !conf_dma(c, false, IOVA_R, DMA_LEN, 0))
		return;
	obs(c, "second.fault", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_PPF));
	wr32(c, frcd_off(c, 0) + 12, 1u << 31);
	wr32(c, VTD_REG_FSTS, 0xff);
	d = (c->cap & VTD_CAP_PSI) ?
		vtd_desc_iotlb(VTD_INV_PAGE, 13, IOVA_R, 0, 0, 0, 0) :
		vtd_desc_iotlb(VTD_INV_DOMAIN, 13, 0, 0, 0, 0, 0);
	conf_qi_put(c, d.qw[0], d.qw[1]);
	if (conf_qi_sync(c) != 0) {
		conf_error(c, "IOTLB invalidation failed");
		return;
	}
	if (!conf_dma(c, false, IOVA_R, DMA_LEN, 0))
		return;
	obs(c, "after_inv.fault", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_PPF));
}

/* §6.5.2.3 / §6.1: after a page-selective IOTLB invalidation (and a wait)
 * a changed leaf is used. */
static void new_leaf(struct conf_ctx *c, bool psi)
{
	struct conf_pt pt;
	struct vtd_desc d;
	void *a, *b, *out;
	uint64_t pa = conf_alloc(c, 4096, 4096, &a);
	uint64_t pb = conf_alloc(c, 4096, 4096, &b);
	uint64_t po = conf_alloc(c, 4096, 4096, &out);

	if (pa == 0 || pb == 0 || po == 0 || !conf_translate_setup(c, &pt, 14) ||
	    !conf_pt_map(c, &pt, IOVA_R, pa, VTD_SL_R) ||
	    !conf_pt_map(c, &pt, IOVA_W, po, VTD_SL_W))
		return;
	fill(a, 3);
	fill(b, 4);
	/* Read through the first leaf (the unit may now cache it). */
	if (!conf_dma(c, false, IOVA_R, DMA_LEN, 0))
		return;
	if (!conf_pt_map(c, &pt, IOVA_R, pb, VTD_SL_R))
		return;
	d = psi ? vtd_desc_iotlb(VTD_INV_PAGE, 14, IOVA_R, 0, 0, 0, 0) :
		  vtd_desc_iotlb(VTD_INV_DOMAIN, 14, 0, 0, 0, 0, 0);
	conf_qi_put(c, d.qw[0], d.qw[1]);
	if (conf_qi_sync(c) != 0) {
		conf_error(c, "IOTLB invalidation failed");
		return;
	}
	if (!conf_dma(c, false, IOVA_R, DMA_LEN, 0) ||
	    !conf_dma(c, true, IOVA_W, DMA_LEN, 0))
		return;
	obs(c, "data.is_new", memcmp(out, b, DMA_LEN) == 0);
	conf_obs_fault(c);
}

static void run_psi_new_leaf(struct conf_ctx *c)
{
	new_leaf(c, true);
}

static void run_dsi_new_leaf(struct conf_ctx *c)
{
	new_leaf(c, false);
}

/* §10.4.4, §11.4.5: a new RTADDR has no effect until SRTP. */
static void run_srtp_latches(struct conf_ctx *c)
{
	struct conf_pt pt;
	struct vtd_desc d;
	void *src, *dst;
	uint64_t ps = conf_alloc(c, 4096, 4096, &src);
	uint64_t pd = conf_alloc(c, 4096, 4096, &dst);
	uint64_t empty = conf_alloc(c, 4096, 4096, NULL);

	if (ps == 0 || pd == 0 || empty == 0 ||
	    !conf_translate_setup(c, &pt, 15) ||
	    !conf_pt_map(c, &pt, IOVA_R, ps, VTD_SL_R) ||
	    !conf_pt_map(c, &pt, IOVA_W, pd, VTD_SL_W))
		return;
	fill(src, 6);
	wr64(c, VTD_REG_RTADDR, empty);
	d = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);
	conf_qi_put(c, d.qw[0], d.qw[1]);
	d = vtd_desc_iotlb(VTD_INV_GLOBAL, 0, 0, 0, 0, 0, 0);
	conf_qi_put(c, d.qw[0], d.qw[1]);
	if (conf_qi_sync(c) != 0) {
		conf_error(c, "global invalidations failed");
		return;
	}
	if (!conf_dma(c, false, IOVA_R, DMA_LEN, 0) ||
	    !conf_dma(c, true, IOVA_W, DMA_LEN, 0))
		return;
	obs(c, "before_srtp.data_ok", memcmp(src, dst, DMA_LEN) == 0);
	obs(c, "before_srtp.ppf", !!(rd32(c, VTD_REG_FSTS) & VTD_FSTS_PPF));
	if (!conf_gcmd(c, (uint32_t)VTD_GCMD_SRTP, 0))
		return;
	d = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);
	conf_qi_put(c, d.qw[0], d.qw[1]);
	d = vtd_desc_iotlb(VTD_INV_GLOBAL, 0, 0, 0, 0, 0, 0);
	conf_qi_put(c, d.qw[0], d.qw[1]);
	if (conf_qi_sync(c) != 0) {
		conf_error(c, "global invalidations failed");
		return;
	}
	if (!conf_dma(c, false, IOVA_R, DMA_LEN, 0))
		return;
	obs(c, "after_srtp.fr", VTD_FRCD_HI_FR(rd64(c, frcd_off(c, 0) + 8)));
}

/* ------------------------------------------------------------------------
 * Departures of QEMU 7.2 (docs/qemu-departures.md).
 */
static const struct conf_departure dep_wait_fence = {
	"qemu-wait-without-sw-or-if",
	{ { "fsts.iqe", 1 }, { "iqh.slot", 1 }, { "wait.done", 0 } },
};
static const struct conf_departure dep_iqer = {
	"qemu-iqer-not-recorded", { { "iqer.iqei", 0 } },
};
static const struct conf_departure dep_iec = {
	"qemu-iec-without-ir", { { "fsts.iqe", 0 }, { "iqh.slot", 3 },
				 { "wait.done", 1 } },
};
static const struct conf_departure dep_cm_np = {
	"qemu-cm-no-not-present-caching", { { "second.fault", 0 } },
};
static const struct conf_departure dep_iqa = {
	"qemu-iqa-reads-latched-base", { { "iqa.is_written", 0 },
					 { "iqa.dw", 0 } },
};
#define ACCEPTED { { "fsts.iqe", 0 }, { "iqh.slot", 3 }, { "wait.done", 1 } }
static const struct conf_departure dep_devtlb = {
	"qemu-devtlb-without-dt", ACCEPTED,
};
static const struct conf_departure dep_pasid = {
	"qemu-pasid-descriptors-unchecked", ACCEPTED,
};
static const struct conf_departure dep_upper = {
	"qemu-256bit-upper-half-unchecked", ACCEPTED,
};
static const struct conf_departure dep_iqt_bit4 = {
	"qemu-iqt-bit4-ignored", { { "fsts.iqe", 0 } },
};

const char *const conf_departure_ids[] = {
	"qemu-wait-without-sw-or-if",
	"qemu-iqer-not-recorded",
	"qemu-iec-without-ir",
	"qemu-cm-no-not-present-caching",
	"qemu-iqa-reads-latched-base",
	"qemu-devtlb-without-dt",
	"qemu-pasid-descriptors-unchecked",
	"qemu-256bit-upper-half-unchecked",
	"qemu-iqt-bit4-ignored",
	NULL,
};

/* ------------------------------------------------------------------------
 * The list.
 */
#define Q NEED_QI
#define D (NEED_QI | NEED_DMA)

const struct conf_case conf_cases[] = {
	/* Registers */
	{ "reg-ver-ro", "VER is read-only (§11.4.1)", 0, run_ver_ro,
	  { { "ver.changed", 0 } }, NULL },
	{ "reg-cap-ro", "CAP is read-only, whole or by halves (§11.4.2)", 0,
	  run_cap_ro, { { "cap.changed", 0 } }, NULL },
	{ "reg-ecap-ro", "ECAP is read-only (§11.4.3)", 0, run_ecap_ro,
	  { { "ecap.changed", 0 } }, NULL },
	{ "reg-gsts-ro", "GSTS is read-only (§11.4.4.2)", 0, run_gsts_ro,
	  { { "gsts.changed", 0 }, { "gsts.tes", 0 } }, NULL },
	{ "reg-srtp-rtps", "SRTP latches RTADDR, sets RTPS (§10.4.4)", 0,
	  run_srtp_rtps,
	  { { "gsts.rtps", 1 }, { "gsts.tes", 0 }, { "rtaddr.is_root", 1 } },
	  NULL },
	{ "reg-rtaddr-rsvd", "RTADDR bits 9:0 reserved (§11.4.5)", 0,
	  run_rtaddr_rsvd, { { "rtaddr.rta_ok", 1 }, { "rtaddr.bits9_0", 0 } },
	  NULL },
	{ "reg-te-on-off", "TE sets and clears TES (§10.4.4)", 0, run_te_on_off,
	  { { "gsts.tes", 1 }, { "gsts.tes_after_off", 0 } }, NULL },
	{ "reg-qie-on", "QIE sets QIES, IQH 0 (§6.5.2)", Q, run_qie_on,
	  { { "gsts.qies", 1 }, { "iqh", 0 } }, NULL },
	{ "reg-qie-off-resets-iqh", "QIE=0 on an idle queue: QIES 0, IQH 0 "
	  "(§11.4.9.1)", Q, run_qie_off_resets_iqh,
	  { { "wait.done", 1 }, { "iqh.before", 0x10 }, { "gsts.qies", 0 },
	    { "iqh", 0 } }, NULL },
	{ "reg-iqa-readback", "IQA address and QS read back (§11.4.9.3)", Q,
	  run_iqa_readback, { { "iqa.is_written", 1 } }, &dep_iqa },
	{ "reg-iqa-dw-readback", "IQA.DW reads back with SMTS (§11.4.9.3)",
	  Q | NEED_SMTS, run_iqa_dw_readback, { { "iqa.dw", 1 } }, &dep_iqa },
	{ "qi-dw-ignored-without-smts", "DW=1 without SMTS: 128-bit slots "
	  "(§11.4.9.3)", Q | NEED_NO_SMTS, run_dw_ignored_without_smts,
	  { { "wait.done", 1 }, { "fsts.iqe", 0 }, { "iqh", 0x20 } }, NULL },
	{ "reg-fsts-rw1c-clear-bits", "FSTS: 1 to a clear RW1C bit is "
	  "harmless, PPF/FRI read-only (§11.4.7.1)", 0, run_fsts_rw1c_clear,
	  { { "fsts", 0 } }, NULL },
	{ "reg-fectl-reset", "FECTL resets IM=1 IP=0 (§11.4.7.2)", 0,
	  run_fectl_reset, { { "fectl.im", 1 }, { "fectl.ip", 0 } }, NULL },
	{ "reg-iectl-reset", "IECTL resets IM=1 IP=0 (§11.4.9.6)", Q,
	  run_iectl_reset, { { "iectl.im", 1 }, { "iectl.ip", 0 } }, NULL },
	{ "reg-ccmd-global", "CCMD global: ICC clears, CAIG 1 (§11.4.6)", 0,
	  run_ccmd_global, { { "ccmd.icc", 0 }, { "ccmd.caig", 1 } }, NULL },
	{ "reg-ccmd-domain", "CCMD domain: ICC clears, CAIG domain or coarser "
	  "(§6.5.1.1, §11.4.6)", 0, run_ccmd_domain,
	  { { "ccmd.icc", 0 }, { "ccmd.caig_covers", 1 } }, NULL },
	{ "reg-iotlb-global", "IOTLB global: IVT clears, IAIG 1 (§11.4.8.1)",
	  0, run_iotlb_reg_global, { { "iotlb.ivt", 0 }, { "iotlb.iaig", 1 } },
	  NULL },
	{ "reg-iotlb-domain", "IOTLB domain: IVT clears, IAIG domain or coarser "
	  "(§6.5.1.2, §11.4.8.1)", 0, run_iotlb_reg_domain,
	  { { "iotlb.ivt", 0 }, { "iotlb.iaig_covers", 1 } }, NULL },
	{ "reg-iotlb-psi-am-too-big", "IOTLB PSI AM > MAMV: not performed, "
	  "IAIG 0 (§11.4.8.1)", NEED_PSI, run_iotlb_reg_psi_am_too_big,
	  { { "iotlb.ivt", 0 }, { "iotlb.iaig", 0 } }, NULL },
	{ "reg-ccmd-refused-under-qi", "CCMD while QI is on is not performed "
	  "(§6.5.2)", Q, run_ccmd_refused_under_qi, { { "ccmd.icc", 1 } },
	  NULL },
	{ "reg-iotlb-refused-under-qi", "IOTLB register while QI is on is not "
	  "performed (§6.5.2)", Q, run_iotlb_refused_under_qi,
	  { { "iotlb.ivt", 1 } }, NULL },

	/* Queued invalidation */
	{ "qi-wait-status-write", "wait SW writes the 32-bit data (§6.5.2.8)",
	  Q, run_wait_status, { { "wait.done", 1 }, { "wait.data", 0x5a000001 },
	  { "wait.next_word", 0x77777777 },
	  { "iqh.slot", 1 }, { "fsts", 0 } }, NULL },
	{ "qi-wait-if-iwc", "wait IF sets ICS.IWC, IECTL.IP; RW1C (§6.5.2.8)",
	  Q, run_wait_if_iwc, { { "iqh.slot", 1 }, { "ics.iwc", 1 },
	  { "iectl.ip", 1 }, { "ics.iwc_after_clear", 0 },
	  { "iectl.ip_after_clear", 0 } }, NULL },
	{ "qi-wait-fence-only", "wait with neither SW nor IF is valid "
	  "(§6.5.2.8)", Q, run_wait_fence_only, VALID_DESC, &dep_wait_fence },
	{ "qi-cc-global", "context-cache global accepted (§6.5.2.1)", Q,
	  run_cc_global, VALID_DESC, NULL },
	{ "qi-cc-domain", "context-cache domain accepted (§6.5.2.1)", Q,
	  run_cc_domain, VALID_DESC, NULL },
	{ "qi-cc-device", "context-cache device accepted (§6.5.2.1)", Q,
	  run_cc_device, VALID_DESC, NULL },
	{ "qi-iotlb-global", "IOTLB global accepted (§6.5.2.3)", Q,
	  run_iotlb_global, VALID_DESC, NULL },
	{ "qi-iotlb-domain", "IOTLB domain accepted (§6.5.2.3)", Q,
	  run_iotlb_domain, VALID_DESC, NULL },
	{ "qi-iotlb-psi", "IOTLB page-selective accepted (§6.5.2.3)",
	  Q | NEED_PSI, run_iotlb_psi, VALID_DESC, NULL },
	{ "qi-devtlb", "device-TLB accepted with ECAP.DT (§6.5.2.5)",
	  Q | NEED_DT, run_devtlb, VALID_DESC, NULL },
	{ "qi-devtlb-without-dt", "device-TLB invalid without ECAP.DT "
	  "(§6.5.2.5)", Q | NEED_NO_DT, run_devtlb, IQE_AT_1, &dep_devtlb },
	{ "qi-cc-rsvd-qw0", "context-cache qw0 bit 6 reserved: IQE, IQH at it "
	  "(§6.5.2.1, §6.5.2.10)", Q, run_cc_rsvd_qw0, IQE_AT_1, NULL },
	{ "qi-cc-rsvd-qw1", "context-cache qw1 reserved (§6.5.2.1)", Q,
	  run_cc_rsvd_qw1, IQE_AT_1, NULL },
	{ "qi-cc-gran0", "context-cache granularity 0 reserved (§6.5.2.1)", Q,
	  run_cc_gran0, IQE_AT_1, NULL },
	{ "qi-iotlb-rsvd-qw0", "IOTLB qw0 bit 8 reserved (§6.5.2.3)", Q,
	  run_iotlb_rsvd_qw0, IQE_AT_1, NULL },
	{ "qi-iotlb-rsvd-qw1", "IOTLB qw1 bit 7 reserved (§6.5.2.3)", Q,
	  run_iotlb_rsvd_qw1, IQE_AT_1, NULL },
	{ "qi-iotlb-gran0", "IOTLB granularity 0 reserved (§6.5.2.3)", Q,
	  run_iotlb_gran0, IQE_AT_1, NULL },
	{ "qi-iotlb-psi-am-too-big", "IOTLB PSI AM > MAMV invalid (§6.5.2.3)",
	  Q | NEED_PSI, run_iotlb_psi_am_too_big, IQE_AT_1, NULL },
	{ "qi-wait-rsvd-qw0", "wait qw0 bit 8 reserved (§6.5.2.8)", Q,
	  run_wait_rsvd_qw0, IQE_AT_1, NULL },
	{ "qi-wait-rsvd-qw1", "wait status address bits 1:0 reserved "
	  "(§6.5.2.8)", Q, run_wait_rsvd_qw1, IQE_AT_1, NULL },
	{ "qi-type0", "descriptor type 0 invalid (§6.5.2)", Q, run_type0,
	  IQE_AT_1, NULL },
	{ "qi-type-unknown", "descriptor type 0x1f invalid (§6.5.2)", Q,
	  run_type_unknown, IQE_AT_1, NULL },
	{ "qi-iec-without-ir", "IEC invalid without ECAP.IR (§6.5.2.7)",
	  Q | NEED_NO_IR, run_iec_without_ir, IQE_AT_1, &dep_iec },
	{ "qi-piotlb-in-128bit-queue", "PASID-IOTLB needs a 256-bit queue "
	  "(§6.5.2.4)", Q, run_piotlb_in_128, IQE_AT_1, &dep_pasid },
	{ "qi-pc-in-128bit-queue", "PASID-cache needs a 256-bit queue "
	  "(§6.5.2.2)", Q, run_pc_in_128, IQE_AT_1, &dep_pasid },
	{ "qi-iqt-beyond-queue", "IQT beyond the queue: IQE, IQH stays "
	  "(§6.5.2.10)", Q, run_iqt_beyond_queue,
	  { { "fsts.iqe", 1 }, { "iqh", 0 } }, NULL },
	{ "qi-iqt-dw-bit4", "IQT bit 4 reserved with DW=1 (§11.4.9.2)",
	  Q | NEED_SMTS, run_iqt_dw_bit4, { { "fsts.iqe", 1 }, { "iqh", 0 } },
	  &dep_iqt_bit4 },
	{ "qi-iqer-tail", "IQER.IQEI 1 for a bad tail (§11.4.9.9)", Q,
	  run_iqer_tail, { { "fsts.iqe", 1 }, { "iqer.iqei", 1 } }, &dep_iqer },
	{ "qi-iqer-type", "IQER.IQEI 3 for an invalid type (§11.4.9.9)", Q,
	  run_iqer_type, { { "fsts.iqe", 1 }, { "iqer.iqei", 3 } }, &dep_iqer },
	{ "qi-iqer-rsvd", "IQER.IQEI 4 for a reserved field (§11.4.9.9)", Q,
	  run_iqer_rsvd, { { "fsts.iqe", 1 }, { "iqer.iqei", 4 } }, &dep_iqer },
	{ "qi-iqe-sticky", "after IQE nothing is fetched until IQE is cleared "
	  "and IQT written (§6.5.2.10)", Q, run_iqe_sticky,
	  { { "fsts.iqe", 1 }, { "wait.done_while_iqe", 0 },
	    { "iqh.slot_while_iqe", 0 }, { "fsts.iqe_after_clear", 0 },
	    { "wait.done", 1 }, { "iqh.slot", 2 } }, NULL },
	{ "qi-iqe-earlier-done", "descriptors before an invalid one take "
	  "effect (§6.5.2.10)", Q, run_iqe_earlier_done,
	  { { "first.done", 1 }, { "fsts.iqe", 1 }, { "iqh.slot", 1 } }, NULL },
	{ "qi-iqe-fault-event", "IQE with FECTL.IM=1 leaves IP pending until "
	  "cleared (§7.3)", Q, run_iqe_fault_event,
	  { { "fsts.iqe", 1 }, { "fectl.ip", 1 }, { "fectl.ip_after_clear", 0 } },
	  NULL },
	{ "qi-iqh-batch", "IQH passes every descriptor done (§11.4.9.1)", Q,
	  run_iqh_batch, { { "wait.done", 1 }, { "iqh.slot", 4 } }, NULL },
	{ "qi-queue-wrap", "the queue wraps at its end (§6.5.2)", Q,
	  run_queue_wrap, { { "wait1.done", 1 }, { "wait.done", 1 },
	  { "iqh.slot", 6 }, { "fsts.iqe", 0 } }, NULL },
	{ "qi-dw-wait", "256-bit queue: IQH counts 32-byte slots (§6.5.2)",
	  Q | NEED_SMTS, run_dw_wait, { { "wait.done", 1 }, { "iqh", 0x20 } },
	  NULL },
	{ "qi-dw-cc-upper-nonzero", "256-bit queue: upper half of a 128-bit "
	  "descriptor reserved (§6.5.2)", Q | NEED_SMTS,
	  run_dw_cc_upper_nonzero, IQE_AT_1, &dep_upper },
	{ "qi-dw-piotlb", "PASID-IOTLB accepted in a 256-bit queue "
	  "(§6.5.2.4)", Q | NEED_SMTS, run_dw_piotlb, VALID_DESC, NULL },
	{ "qi-dw-pc-global", "PASID-cache global accepted (§6.5.2.2)",
	  Q | NEED_SMTS, run_dw_pc_global, VALID_DESC, NULL },
	{ "qi-dw-pc-gran2", "PASID-cache granularity 2 reserved (§6.5.2.2)",
	  Q | NEED_SMTS, run_dw_pc_gran2, IQE_AT_1, &dep_pasid },

	/* Translation and faults */
	{ "dma-te-off", "TE=0: DMA addresses are physical (§10.4.4)",
	  NEED_DMA, run_dma_te_off, { { "data.ok", 1 }, NO_FAULT }, NULL },
	{ "dma-translate", "mapped read and write (§3.6)", D,
	  run_dma_translate, { { "data.ok", 1 }, NO_FAULT }, NULL },
	{ "dma-te-off-after-on", "TE cleared: DMA untranslated again "
	  "(§10.4.4)", D, run_dma_te_off_after_on, { { "data.ok", 1 }, NO_FAULT },
	  NULL },
	{ "dma-2m-superpage", "a 2 MiB second-stage leaf (§9.8)",
	  D | NEED_SLLPS_2M, run_dma_2m_superpage, { { "data.ok", 1 }, NO_FAULT },
	  NULL },
	{ "fault-2m-rsvd", "2 MiB leaf with address bit 12 set: 0Ch (§9.8)",
	  D | NEED_SLLPS_2M, run_fault_2m_rsvd,
	  { FAULT(0xC, IOVA_2M, 1) }, NULL },
	{ "fault-nonleaf-ro", "write through a read-only non-leaf entry: 05h "
	  "(§3.6)", D, run_fault_nonleaf_ro,
	  { FAULT(0x5, IOVA_W, 0), { "mem.touched", 0 } }, NULL },
	{ "fault-root-np", "root entry not present: 01h (App. A)", D,
	  run_fault_root_np, { FAULT(0x1, IOVA_R, 1) }, NULL },
	{ "fault-ctx-np", "context entry not present: 02h (App. A)", D,
	  run_fault_ctx_np, { FAULT(0x2, IOVA_R, 1) }, NULL },
	{ "fault-ctx-np-fpd", "FPD in a not-present context entry suppresses "
	  "02h (§7.1.2)", D, run_fault_ctx_np_fpd,
	  { NO_FAULT, { "fsts.pfo", 0 } }, NULL },
	{ "ctx-tt-passthrough", "TT=10b with ECAP.PT: untranslated (§9.3)",
	  D | NEED_PT, run_ctx_tt_passthrough, { { "data.ok", 1 }, NO_FAULT },
	  NULL },
	{ "ctx-tt-devtlb", "TT=01b with ECAP.DT: untranslated requests are "
	  "translated (§9.3)", D | NEED_DT, run_ctx_tt_devtlb,
	  { { "data.ok", 1 }, NO_FAULT }, NULL },
	{ "fault-ctx-tt-devtlb-without-dt", "TT=01b without ECAP.DT: 03h "
	  "(§9.3)", D | NEED_NO_DT, run_ctx_tt_devtlb_without_dt,
	  { FAULT(0x3, IOVA_R, 1) }, NULL },
	{ "fault-ctx-tt-reserved", "TT=11b reserved: 03h (§9.3)", D,
	  run_ctx_tt_reserved, { FAULT(0x3, IOVA_R, 1) }, NULL },
	{ "fault-ctx-aw", "context AW not in SAGAW: 03h (App. A)",
	  D | NEED_SAGAW_GAP, run_fault_ctx_aw, { FAULT(0x3, IOVA_R, 1) },
	  NULL },
	{ "fault-addr-width", "address beyond AW: 04h (App. A)", D,
	  run_fault_addr_width, { { "fsts.ppf", 1 }, { "frcd0.f", 1 },
	  { "frcd0.fr", 0x4 }, { "frcd0.sid", SID }, { "frcd0.t", 1 },
	  { "frcd0.fi_is_iova", 1 } }, NULL },
	{ "fault-write-ro", "write to a read-only leaf: 05h, T=0 (App. A)", D,
	  run_fault_write_ro, { FAULT(0x5, IOVA_W, 0), { "mem.touched", 0 } },
	  NULL },
	{ "fault-read-wo", "read of a write-only leaf: 06h (App. A)", D,
	  run_fault_read_wo, { FAULT(0x6, IOVA_R, 1) }, NULL },
	{ "fault-leaf-np-read", "read, leaf not present: 06h (§9.8)", D,
	  run_fault_leaf_np_read, { FAULT(0x6, IOVA_R, 1) }, NULL },
	{ "fault-leaf-np-write", "write, leaf not present: 05h (§9.8)", D,
	  run_fault_leaf_np_write, { FAULT(0x5, IOVA_W, 0) }, NULL },
	{ "fault-root-rsvd", "root entry reserved bit: 0Ah (App. A)", D,
	  run_fault_root_rsvd, { FAULT(0xA, IOVA_R, 1) }, NULL },
	{ "fault-ctx-rsvd", "context entry reserved bit: 0Bh (App. A)", D,
	  run_fault_ctx_rsvd, { FAULT(0xB, IOVA_R, 1) }, NULL },
	{ "fault-pte-rsvd", "paging entry reserved bit: 0Ch (App. A)", D,
	  run_fault_pte_rsvd, { FAULT(0xC, IOVA_R, 1) }, NULL },
	{ "fault-fpd", "FPD=1: the fault is not recorded (§7.1)", D,
	  run_fault_fpd, { NO_FAULT, { "fsts.pfo", 0 } }, NULL },
	{ "fault-frcd-clear", "FRCD.F RW1C clears PPF (§11.4.14)", D,
	  run_frcd_clear, { FAULT(0x1, IOVA_R, 1), { "frcd0.f_after_clear", 0 },
	  { "fsts.ppf_after_clear", 0 } }, NULL },
	{ "fault-event", "a recorded fault sets FECTL.IP under IM; serviced "
	  "status clears it (§7.3)", D, run_fault_event,
	  { { "fectl.ip", 1 }, { "fectl.ip_after_service", 0 } }, NULL },
	{ "fault-frcd-ro", "fault record fields other than F are read-only "
	  "(§11.4.14)", D, run_frcd_ro,
	  { { "frcd0.lo_changed", 0 }, { "frcd0.hi_changed", 0 } }, NULL },
	{ "fault-frcd-reuse", "a cleared record takes the next fault "
	  "(§7.2.1)", D, run_frcd_reuse, { FAULT(0x1, IOVA_W, 0) }, NULL },
	{ "fault-overflow", "record in use: the first fault is kept "
	  "(§7.2.1)", D | NEED_NFR1, run_fault_overflow,
	  { { "fsts.ppf", 1 }, { "frcd0.f", 1 }, { "frcd0.fr", 0x1 },
	    { "frcd0.fi", IOVA_R } }, NULL },
	{ "cm-not-present-cached", "CM=1: a not-present leaf may be cached "
	  "until invalidated (§6.1)", D | NEED_CM, run_cm_not_present_cached,
	  { { "first.fault", 1 }, { "second.fault", 1 },
	    { "after_inv.fault", 0 } }, &dep_cm_np },
	{ "nocm-leaf-np-not-cached", "CM=0: a not-present leaf made present "
	  "is used without invalidation (§6.1)", D | NEED_NO_CM,
	  run_nocm_leaf_np, { { "first.fault", 1 }, { "second.fault", 0 } },
	  NULL },
	{ "nocm-ctx-np-not-cached", "CM=0: a not-present context made "
	  "present is used without invalidation (§6.1)", D | NEED_NO_CM,
	  run_nocm_ctx_np, { { "first.fr", 0x2 }, { "second.fault", 0 } },
	  NULL },
	{ "dsi-new-leaf", "after DSI + wait the new leaf is used (§6.5.2.3)",
	  D, run_dsi_new_leaf, { { "data.is_new", 1 }, NO_FAULT }, NULL },
	{ "psi-new-leaf", "after PSI + wait the new leaf is used (§6.5.2.3)",
	  D | NEED_PSI, run_psi_new_leaf, { { "data.is_new", 1 }, NO_FAULT }, NULL },
	{ "srtp-latches-root", "RTADDR takes effect at SRTP (§10.4.4)", D,
	  run_srtp_latches, { { "before_srtp.data_ok", 1 },
	  { "before_srtp.ppf", 0 }, { "after_srtp.fr", 0x1 } }, NULL },
};

const unsigned int conf_ncases = sizeof(conf_cases) / sizeof(conf_cases[0]);
