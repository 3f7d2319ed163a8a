/* SPDX-License-Identifier: BSD-3-Clause
 * VT-d conformance: the helpers cases use and the runner (conf.h).
 *
 * The helpers encode entries and descriptors with the driver's layout
 * header (drivers/iommu/vtd/vtd_hw.h): a test is free to use it, and a
 * mistake there shows up here as a QEMU mismatch, since QEMU's unit shares
 * nothing with it.
 */
#include "conf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivers/iommu/vtd/vtd_hw.h"

/* Every wait of a case (GSTS, a status word) is bounded by this; both
 * units complete commands within the register write, so it only guards
 * against a unit that never answers. */
#define CONF_TIMEOUT_NS (2ull * 1000 * 1000 * 1000)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint32_t rd32(struct conf_ctx *c, uint32_t off)
{
	return (uint32_t)c->u->rd(c->u, off, 4);
}

uint64_t rd64(struct conf_ctx *c, uint32_t off)
{
	return c->u->rd(c->u, off, 8);
}

void wr32(struct conf_ctx *c, uint32_t off, uint32_t v)
{
	c->u->wr(c->u, off, v, 4);
}

void wr64(struct conf_ctx *c, uint32_t off, uint64_t v)
{
	c->u->wr(c->u, off, v, 8);
}

uint32_t frcd_off(struct conf_ctx *c, unsigned int i)
{
	return (uint32_t)VTD_CAP_FRO(c->cap) + VTD_FRCD_SIZE * i;
}

uint32_t iotlb_reg_off(struct conf_ctx *c)
{
	return (uint32_t)VTD_ECAP_IRO(c->ecap) + VTD_IOTLB_REG_IOTLB;
}

void obs(struct conf_ctx *c, const char *key, uint64_t v)
{
	for (unsigned int i = 0; i < c->nobs; i++) {
		if (strcmp(c->obs[i].key, key) == 0) {
			c->obs[i].value = v;
			return;
		}
	}
	if (c->nobs < sizeof(c->obs) / sizeof(c->obs[0]))
		c->obs[c->nobs++] = (struct conf_kv){ key, v };
	else
		conf_error(c, "too many observations (%s)", key);
}

bool conf_error(struct conf_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err[0] != '\0')
		return false; /* keep the first reason */
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return false;
}

uint64_t conf_alloc(struct conf_ctx *c, uint64_t size, uint64_t align,
		    void **va)
{
	void *p = NULL;
	uint64_t pa = c->u->alloc(c->u, size, align, &p);

	if (pa == 0) {
		conf_error(c, "out of memory (%" PRIu64 " bytes)", size);
		return 0;
	}
	if (va != NULL)
		*va = p;
	return pa;
}

void conf_store64(void *va, uint64_t v)
{
	/* The unit reads a table entry as one 64-bit access: store it whole,
	 * and order it before whatever tells the unit to look (a register
	 * write: MMIO on the guest, a locked call on the host). */
	__atomic_store_n((uint64_t *)va, v, __ATOMIC_SEQ_CST);
}

bool conf_gcmd(struct conf_ctx *c, uint32_t set, uint32_t clear)
{
	uint32_t gsts = rd32(c, VTD_REG_GSTS);
	uint32_t persist = (uint32_t)VTD_GCMD_PERSISTENT;
	uint32_t cmd = ((gsts & persist) | set) & ~clear;
	uint64_t end;

	wr32(c, VTD_REG_GCMD, cmd);
	end = now_ns() + CONF_TIMEOUT_NS;
	for (;;) {
		uint32_t s = rd32(c, VTD_REG_GSTS);
		bool done = true;

		/* §11.4.4: a persistent command is done when its status bit
		 * reaches the new state; SRTP when RTPS is set. */
		if ((set & VTD_GCMD_SRTP) && !(s & VTD_GSTS_RTPS))
			done = false;
		if ((cmd ^ s) & persist & (set | clear))
			done = false;
		if (done)
			return true;
		if (now_ns() > end)
			return conf_error(c, "GCMD 0x%08x: GSTS 0x%08x did not "
					  "follow", cmd, s);
	}
}

bool conf_set_root(struct conf_ctx *c, uint64_t pa)
{
	wr64(c, VTD_REG_RTADDR, pa);
	return conf_gcmd(c, (uint32_t)VTD_GCMD_SRTP, 0);
}

bool conf_qi_enable(struct conf_ctx *c, unsigned int qs, bool dw)
{
	struct conf_queue *q = &c->q;
	void *va;
	uint64_t pa = conf_alloc(c, 4096ull << qs, 4096, &va);

	if (pa == 0)
		return false;
	memset(q, 0, sizeof(*q));
	q->base = pa;
	q->va = va;
	q->dw = dw;
	q->slots = (4096u << qs) / (dw ? 32u : 16u);
	q->status_pa = conf_alloc(c, 64, 64, &va);
	if (q->status_pa == 0)
		return false;
	q->status = va;
	/* §6.5.2: IQT = 0 before the queue is enabled, then IQA. */
	wr64(c, VTD_REG_IQT, 0);
	wr64(c, VTD_REG_IQA, pa | (dw ? VTD_IQA_DW : 0) | VTD_IQA_QS(qs));
	return conf_gcmd(c, (uint32_t)VTD_GCMD_QIE, 0);
}

void conf_qi_put(struct conf_ctx *c, uint64_t qw0, uint64_t qw1)
{
	uint64_t qw[4] = { qw0, qw1, 0, 0 };

	conf_qi_put256(c, qw);
}

void conf_qi_put256(struct conf_ctx *c, const uint64_t qw[4])
{
	struct conf_queue *q = &c->q;
	unsigned int n = q->dw ? 4 : 2;
	uint8_t *slot = q->va + (size_t)q->tail * (q->dw ? 32u : 16u);

	for (unsigned int i = 0; i < n; i++)
		conf_store64(slot + 8 * i, qw[i]);
	q->tail = (q->tail + 1) % q->slots;
}

void conf_qi_doorbell(struct conf_ctx *c)
{
	struct conf_queue *q = &c->q;

	wr64(c, VTD_REG_IQT, (uint64_t)q->tail <<
	     (q->dw ? VTD_IQ_SHIFT_256 : VTD_IQ_SHIFT_128));
}

unsigned int conf_iqh_slot(struct conf_ctx *c)
{
	return (unsigned int)(rd64(c, VTD_REG_IQH) >>
			      (c->q.dw ? VTD_IQ_SHIFT_256 : VTD_IQ_SHIFT_128));
}

int conf_qi_sync(struct conf_ctx *c)
{
	struct conf_queue *q = &c->q;
	uint32_t seq = ++q->seq | 0x5a000000u;
	struct vtd_desc w = vtd_desc_wait(VTD_WAIT_SW, seq, q->status_pa);
	uint64_t end = now_ns() + CONF_TIMEOUT_NS;

	conf_qi_put(c, w.qw[0], w.qw[1]);
	conf_qi_doorbell(c);
	for (;;) {
		if (__atomic_load_n(q->status, __ATOMIC_ACQUIRE) == seq)
			return 0;
		if (rd32(c, VTD_REG_FSTS) & VTD_FSTS_ERRORS)
			return -EIO;
		if (now_ns() > end)
			return -ETIMEDOUT;
	}
}

/* The cases' allocations are remembered so that a pa read back from a
 * table can be turned into a pointer again. */
#define CONF_MAX_ALLOCS 256
static struct {
	uint64_t pa, size;
	uint8_t *va;
} allocs[CONF_MAX_ALLOCS];
static unsigned int nallocs;

static uint64_t alloc_page(struct conf_ctx *c)
{
	void *va;
	uint64_t pa = conf_alloc(c, 4096, 4096, &va);

	if (pa != 0 && nallocs < CONF_MAX_ALLOCS)
		allocs[nallocs++] = (typeof(allocs[0])){ pa, 4096, va };
	return pa;
}

static void *pa_va(struct conf_ctx *c, uint64_t pa)
{
	for (unsigned int i = 0; i < nallocs; i++)
		if (pa >= allocs[i].pa && pa < allocs[i].pa + allocs[i].size)
			return allocs[i].va + (pa - allocs[i].pa);
	conf_error(c, "no memory known at 0x%" PRIx64, pa);
	return NULL;
}

bool conf_root_new(struct conf_ctx *c)
{
	c->root = alloc_page(c);
	return c->root != 0;
}

uint64_t *conf_root_entry(struct conf_ctx *c, uint8_t bus)
{
	uint8_t *r = pa_va(c, c->root);

	return r ? (uint64_t *)(r + 16u * bus) : NULL;
}

bool conf_context_set(struct conf_ctx *c, uint16_t sid, uint64_t lo,
		      uint64_t hi)
{
	uint64_t *re = conf_root_entry(c, (uint8_t)(sid >> 8));
	uint64_t ctp;
	uint8_t *ct;

	if (re == NULL)
		return false;
	if (!(re[0] & VTD_ROOT_P)) {
		ctp = alloc_page(c);
		if (ctp == 0)
			return false;
		conf_store64(&re[1], 0);
		conf_store64(&re[0], ctp | VTD_ROOT_P);
	}
	ct = pa_va(c, re[0] & VTD_PAGE_MASK);
	if (ct == NULL)
		return false;
	/* §9.3: the upper qword first, P (in the lower) last. */
	conf_store64(ct + 16u * (sid & 0xff) + 8, hi);
	conf_store64(ct + 16u * (sid & 0xff), lo);
	return true;
}

bool conf_pt_new(struct conf_ctx *c, struct conf_pt *pt)
{
	unsigned int sagaw = (unsigned int)VTD_CAP_SAGAW(c->cap);
	unsigned int agaw;

	for (agaw = VTD_AGAW_39; agaw <= VTD_AGAW_57; agaw++)
		if (sagaw & (1u << agaw))
			break;
	if (agaw > VTD_AGAW_57)
		return conf_error(c, "CAP.SAGAW 0x%x has no width", sagaw);
	pt->levels = VTD_AGAW_LEVELS(agaw);
	pt->root = alloc_page(c);
	pt->root_va = pt->root ? pa_va(c, pt->root) : NULL;
	return pt->root != 0;
}

static uint64_t *pt_walk_to(struct conf_ctx *c, struct conf_pt *pt,
			    uint64_t iova, unsigned int level, bool create)
{
	uint8_t *table = pt->root_va;

	for (unsigned int l = pt->levels; l > level; l--) {
		uint64_t *e = (uint64_t *)(table + 8 *
			((iova >> VTD_LEVEL_SHIFT(l)) & 511));
		if (!(*e & (VTD_SL_R | VTD_SL_W))) {
			uint64_t next;

			if (!create)
				return NULL;
			next = alloc_page(c);
			if (next == 0)
				return NULL;
			conf_store64(e, next | VTD_SL_R | VTD_SL_W);
		}
		table = pa_va(c, *e & VTD_SL_ADDR_MASK);
		if (table == NULL)
			return NULL;
	}
	return (uint64_t *)(table + 8 * ((iova >> VTD_LEVEL_SHIFT(level)) & 511));
}

static uint64_t *pt_walk(struct conf_ctx *c, struct conf_pt *pt,
			 uint64_t iova, bool create)
{
	return pt_walk_to(c, pt, iova, 1, create);
}

uint64_t *conf_pt_entry(struct conf_ctx *c, struct conf_pt *pt, uint64_t iova,
			unsigned int level)
{
	uint64_t *e = pt_walk_to(c, pt, iova, level, true);

	if (e == NULL)
		conf_error(c, "page table for 0x%" PRIx64 " level %u", iova,
			   level);
	return e;
}

bool conf_pt_map(struct conf_ctx *c, struct conf_pt *pt, uint64_t iova,
		 uint64_t pa, uint64_t leaf_bits)
{
	uint64_t *e = pt_walk(c, pt, iova, true);

	if (e == NULL)
		return conf_error(c, "page table for 0x%" PRIx64, iova);
	conf_store64(e, (pa & VTD_SL_ADDR_MASK) | leaf_bits);
	return true;
}

uint64_t *conf_pt_leaf(struct conf_ctx *c, struct conf_pt *pt, uint64_t iova)
{
	return pt_walk(c, pt, iova, false);
}

uint64_t conf_ctx_lo(const struct conf_pt *pt)
{
	return VTD_CTX_P | VTD_CTX_TT(VTD_CTX_TT_MULTI) |
	       (pt->root & VTD_PAGE_MASK);
}

uint64_t conf_ctx_hi(const struct conf_pt *pt, uint16_t did)
{
	return VTD_CTX_HI_AW(pt->levels - 2) | VTD_CTX_HI_DID(did);
}

bool conf_translate_setup(struct conf_ctx *c, struct conf_pt *pt,
			  uint16_t did)
{
	struct vtd_desc d;

	if (!conf_root_new(c) || !conf_pt_new(c, pt))
		return false;
	if (!conf_context_set(c, CONF_SID, conf_ctx_lo(pt),
			      conf_ctx_hi(pt, did)))
		return false;
	if (!conf_set_root(c, c->root) || !conf_qi_enable(c, 0, false))
		return false;
	d = vtd_desc_cc(VTD_CC_GLOBAL, 0, 0, 0);
	conf_qi_put(c, d.qw[0], d.qw[1]);
	d = vtd_desc_iotlb(VTD_INV_GLOBAL, 0, 0, 0, 0, 0, 0);
	conf_qi_put(c, d.qw[0], d.qw[1]);
	if (conf_qi_sync(c) != 0)
		return conf_error(c, "global invalidations did not complete "
				  "(FSTS 0x%x)", rd32(c, VTD_REG_FSTS));
	return conf_gcmd(c, (uint32_t)VTD_GCMD_TE, 0);
}

bool conf_dma(struct conf_ctx *c, bool to_mem, uint64_t iova, uint32_t len,
	      uint32_t buf_off)
{
	int rc = c->u->dma(c->u, to_mem, iova, len, buf_off);

	if (rc != 0)
		return conf_error(c, "DMA %s 0x%" PRIx64 " could not run: %s",
				  to_mem ? "to" : "from", iova, strerror(-rc));
	return true;
}

void conf_obs_fault(struct conf_ctx *c)
{
	uint32_t fsts = rd32(c, VTD_REG_FSTS);
	uint64_t lo = rd64(c, frcd_off(c, 0));
	uint64_t hi = rd64(c, frcd_off(c, 0) + 8);

	obs(c, "fsts.ppf", !!(fsts & VTD_FSTS_PPF));
	obs(c, "fsts.pfo", !!(fsts & VTD_FSTS_PFO));
	obs(c, "fsts.fri", VTD_FSTS_FRI(fsts));
	obs(c, "frcd0.f", !!(hi & VTD_FRCD_HI_F));
	obs(c, "frcd0.fr", VTD_FRCD_HI_FR(hi));
	obs(c, "frcd0.sid", VTD_FRCD_HI_SID(hi));
	obs(c, "frcd0.fi", VTD_FRCD_LO_FI(lo));
	obs(c, "frcd0.t", !!(hi & VTD_FRCD_HI_T));
}

/* ------------------------------------------------------------------------
 * The runner.
 */
static const char *needs_missing(const struct conf_ctx *c, unsigned int n)
{
	unsigned int sagaw = (unsigned int)VTD_CAP_SAGAW(c->cap);

	if ((n & NEED_QI) && !(c->ecap & VTD_ECAP_QI))
		return "ECAP.QI=0: no invalidation queue";
	if ((n & NEED_DMA) && !c->u->has_dma)
		return c->u->no_dma_why ? c->u->no_dma_why : "no DMA requester";
	if ((n & NEED_CM) && !(c->cap & VTD_CAP_CM))
		return "CAP.CM=0";
	if ((n & NEED_NO_CM) && (c->cap & VTD_CAP_CM))
		return "CAP.CM=1";
	if ((n & NEED_SMTS) && !(c->ecap & VTD_ECAP_SMTS))
		return "ECAP.SMTS=0: no 256-bit descriptors";
	if ((n & NEED_NO_SMTS) && (c->ecap & VTD_ECAP_SMTS))
		return "ECAP.SMTS=1";
	if ((n & NEED_PSI) && !(c->cap & VTD_CAP_PSI))
		return "CAP.PSI=0";
	if ((n & NEED_DT) && !(c->ecap & VTD_ECAP_DT))
		return "ECAP.DT=0: no device-TLB descriptors";
	if ((n & NEED_NO_DT) && (c->ecap & VTD_ECAP_DT))
		return "ECAP.DT=1";
	if ((n & NEED_NO_IR) && (c->ecap & VTD_ECAP_IR))
		return "ECAP.IR=1";
	if ((n & NEED_NFR1) && VTD_CAP_NFR(c->cap) != 1)
		return "CAP.NFR: more than one fault record";
	if ((n & NEED_SAGAW_GAP) && (sagaw & 0xe) == 0xe)
		return "CAP.SAGAW supports every width";
	if ((n & NEED_PT) && !(c->ecap & VTD_ECAP_PT))
		return "ECAP.PT=0";
	if ((n & NEED_NO_SC) && (c->ecap & VTD_ECAP_SC))
		return "ECAP.SC=1";
	if ((n & NEED_SLLPS_2M) && !(VTD_CAP_SLLPS(c->cap) & 1))
		return "CAP.SLLPS: no 2 MiB leaves";
	return NULL;
}

static const struct conf_kv *find_kv(const struct conf_kv *kv, unsigned int n,
				     const char *key)
{
	for (unsigned int i = 0; i < n && kv[i].key != NULL; i++)
		if (strcmp(kv[i].key, key) == 0)
			return &kv[i];
	return NULL;
}

/* Compares the observations with the spec outcome, or with the departure's
 * values over it when dep is given (a departure only changes keys the case
 * expects; one departure may serve several cases). Prints the differences
 * when print. */
static bool outcome_matches(const struct conf_ctx *c,
			    const struct conf_case *k,
			    const struct conf_departure *dep, bool print)
{
	bool ok = true;
	struct conf_kv want[CONF_MAX_KV * 2];
	unsigned int n = 0;

	for (unsigned int i = 0; i < CONF_MAX_KV && k->expect[i].key; i++) {
		const struct conf_kv *o = dep ?
			find_kv(dep->got, CONF_MAX_KV, k->expect[i].key) : NULL;
		want[n++] = o ? *o : k->expect[i];
	}
	for (unsigned int i = 0; i < n; i++) {
		const struct conf_kv *o = find_kv(c->obs, c->nobs, want[i].key);

		if (o == NULL) {
			if (print)
				printf("    %s: not observed, %s 0x%" PRIx64 "\n",
				       want[i].key, dep ? "departure" : "spec",
				       want[i].value);
			ok = false;
		} else if (o->value != want[i].value) {
			if (print)
				printf("    %s: got 0x%" PRIx64 ", %s 0x%" PRIx64
				       "\n", want[i].key, o->value,
				       dep ? "departure" : "spec",
				       want[i].value);
			ok = false;
		}
	}
	return ok;
}

static void print_obs(const struct conf_ctx *c)
{
	printf("    observed:");
	for (unsigned int i = 0; i < c->nobs; i++)
		printf(" %s=0x%" PRIx64, c->obs[i].key, c->obs[i].value);
	printf("\n");
}

int conf_run(const struct conf_run_opts *o)
{
	unsigned int pass = 0, fail = 0, skip = 0, dep = 0, total = 0;
	/* A copy: a fresh unit (and its name) is released after its case. */
	char uname[80] = "(no unit)";

	if (o->unit != NULL)
		snprintf(uname, sizeof(uname), "%s", o->unit->name);

	for (unsigned int i = 0; i < conf_ncases; i++) {
		const struct conf_case *k = &conf_cases[i];
		struct conf_ctx ctx;
		struct conf_unit *u = o->unit;
		char why[200] = "";
		const char *miss;

		if (o->only != NULL && strstr(k->name, o->only) == NULL)
			continue;
		total++;
		memset(&ctx, 0, sizeof(ctx));
		nallocs = 0;
		if (o->fresh != NULL) {
			if (o->fresh(&u, why, sizeof(why)) != 0) {
				printf("FAIL %s: unit: %s\n", k->name, why);
				fail++;
				continue;
			}
			snprintf(uname, sizeof(uname), "%s", u->name);
		} else if (o->reset != NULL && o->reset(u, why, sizeof(why))) {
			printf("FAIL %s: reset: %s\n", k->name, why);
			fail++;
			continue;
		}
		ctx.u = u;
		ctx.ver = (uint32_t)u->rd(u, VTD_REG_VER, 4);
		ctx.cap = u->rd(u, VTD_REG_CAP, 8);
		ctx.ecap = u->rd(u, VTD_REG_ECAP, 8);
		miss = needs_missing(&ctx, k->needs);
		if (miss != NULL) {
			printf("skip %s: %s\n", k->name, miss);
			skip++;
		} else {
			k->run(&ctx);
			if (ctx.err[0] != '\0') {
				printf("FAIL %s: %s\n", k->name, ctx.err);
				print_obs(&ctx);
				fail++;
			} else if (outcome_matches(&ctx, k, NULL, false)) {
				if (u->is_qemu && k->qemu != NULL) {
					/* The documented departure was not
					 * seen: the documentation is wrong. */
					printf("FAIL %s: QEMU met the spec but "
					       "departure %s is documented\n",
					       k->name, k->qemu->id);
					print_obs(&ctx);
					fail++;
				} else {
					printf("ok   %s\n", k->name);
					if (o->verbose)
						print_obs(&ctx);
					pass++;
				}
			} else if (u->is_qemu && k->qemu != NULL &&
				   outcome_matches(&ctx, k, k->qemu, false)) {
				printf("dep  %s: documented QEMU departure %s\n",
				       k->name, k->qemu->id);
				outcome_matches(&ctx, k, NULL, true);
				print_obs(&ctx);
				dep++;
			} else {
				printf("FAIL %s (%s)\n", k->name, k->rule);
				outcome_matches(&ctx, k, NULL, true);
				if (u->is_qemu && k->qemu != NULL) {
					printf("    nor departure %s:\n",
					       k->qemu->id);
					outcome_matches(&ctx, k, k->qemu, true);
				}
				print_obs(&ctx);
				fail++;
			}
		}
		fflush(stdout);
		if (o->fresh != NULL && o->release != NULL)
			o->release(u);
	}
	printf("conformance on %s: %u cases: %u passed, %u QEMU departures, "
	       "%u skipped, %u failed\n", uname, total,
	       pass, dep, skip, fail);
	if (fail)
		return 1;
	return pass + dep == 0 ? 77 : 0;
}

int conf_check_departure_doc(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text;
	long len;
	int bad = 0;

	if (f == NULL) {
		printf("cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)len + 1);
	if (text == NULL || fread(text, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		free(text);
		printf("cannot read %s\n", path);
		return 1;
	}
	fclose(f);
	for (unsigned int i = 0; conf_departure_ids[i] != NULL; i++) {
		char head[128];

		/* Each departure has its own section: "## <id>". */
		snprintf(head, sizeof(head), "\n## %s\n", conf_departure_ids[i]);
		if (strstr(text, head) == NULL) {
			printf("departure %s is not documented in %s (no "
			       "\"## %s\" section)\n", conf_departure_ids[i],
			       path, conf_departure_ids[i]);
			bad = 1;
		}
	}
	/* And every case's departure is in the list. */
	for (unsigned int i = 0; i < conf_ncases; i++) {
		const struct conf_departure *d = conf_cases[i].qemu;
		bool listed = false;

		for (unsigned int j = 0; d && conf_departure_ids[j]; j++)
			if (strcmp(conf_departure_ids[j], d->id) == 0)
				listed = true;
		if (d != NULL && !listed) {
			printf("case %s: departure %s missing from "
			       "conf_departure_ids\n", conf_cases[i].name, d->id);
			bad = 1;
		}
	}
	free(text);
	if (!bad)
		printf("every departure is documented in %s\n", path);
	return bad;
}
