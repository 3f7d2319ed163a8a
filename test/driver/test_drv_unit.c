/* SPDX-License-Identifier: BSD-3-Clause
 * Driver unit bring-up and tear-down on every emulator preset, and the
 * parameter and ownership checks (vtd_unit_open, vtd_unit_close,
 * vtd_real_open's refusals, which never open /dev/mem here).
 *
 * After each bring-up the unit's registers are read back: GSTS (RTPS, TES,
 * QIES), RTADDR (the root table and its TTM), IQA (DW, QS), IQH = IQT; the
 * emulator's statistics show the global invalidations SRTP needs (none with
 * CAP.ESRTPS) and the write-buffer flushes CAP.RWBF asks for. After
 * tear-down: translation still on (DMA blocked) unless asked otherwise, QI
 * off, the root table the unit walks all zero.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uvtd_eal.h"
#include "drv_env.h"

static uint32_t reg32(struct vtdemu *e, uint32_t off)
{
	return (uint32_t)vtdemu_reg_read(e, off, 4);
}

static uint64_t reg64(struct vtdemu *e, uint32_t off)
{
	return vtdemu_reg_read(e, off, 8);
}

static uint64_t inv_count(const struct vtdemu_stats *s, enum vtdemu_desc_stat k)
{
	return s->desc[k] + s->reg_inv[k];
}

static bool page_is_zero(uint64_t iova)
{
	const uint8_t *p = vtd_emu_resolve(NULL, iova, 4096);

	if (p == NULL)
		return false;
	for (unsigned int i = 0; i < 4096; i++)
		if (p[i])
			return false;
	return true;
}

/* One bring-up and tear-down; the expected outcome from the caps. */
static void one_bringup(const char *preset, const struct vtdemu_caps *caps,
			enum vtd_tmode tmode, enum vtd_inval_mode inval,
			bool te, bool disable_te_on_close)
{
	bool smts = (caps->ecap & VTD_ECAP_SMTS) != 0;
	bool qi = (caps->ecap & VTD_ECAP_QI) != 0;
	bool scalable = tmode == VTD_TMODE_SCALABLE ||
			(tmode == VTD_TMODE_AUTO && smts);
	bool queued = inval == VTD_INVAL_QUEUED ||
		      (inval == VTD_INVAL_AUTO && qi);
	int want = 0;
	struct vtd_unit_params p;
	struct vtd_unit_info info;
	struct vtdemu_stats st;
	struct vtd_unit *u;
	struct vtdemu *e;
	uint32_t gsts;
	uint64_t rta, root;
	int rc;

	if (tmode == VTD_TMODE_SCALABLE && !smts)
		want = -ENOTSUP;
	else if (inval == VTD_INVAL_QUEUED && !qi)
		want = -ENOTSUP;
	else if (scalable && !queued)
		want = -ENOTSUP;

	e = drv_emu_new(caps, true);
	REQUIRE(e != NULL, "%s: emulator", preset);
	drv_params(&p, e, preset);
	p.tmode = tmode;
	p.inval = inval;
	p.enable_translation = te;
	p.disable_translation_on_close = disable_te_on_close;
	{
		uint32_t l = drv_quiet();

		rc = vtd_unit_open(&p, &u);
		drv_loud(l);
	}
	CHECK(rc == want, "%s tmode %d inval %d: open = %d, expected %d",
	      preset, tmode, inval, rc, want);
	if (rc) {
		vtdemu_destroy(e);
		return;
	}

	/* Registers after bring-up. */
	gsts = reg32(e, VTD_REG_GSTS);
	CHECK(gsts & VTD_GSTS_RTPS, "%s: GSTS 0x%x: RTPS clear", preset, gsts);
	CHECK(!!(gsts & VTD_GSTS_TES) == te, "%s: GSTS 0x%x: TES != %d",
	      preset, gsts, te);
	CHECK(!!(gsts & VTD_GSTS_QIES) == queued, "%s: GSTS 0x%x: QIES != %d",
	      preset, gsts, queued);
	rta = reg64(e, VTD_REG_RTADDR);
	root = rta & VTD_PAGE_MASK;
	CHECK_EQ(root, u->root.iova);
	CHECK_EQ(rta & VTD_MASK(11, 10),
		 scalable ? VTD_RTADDR_TTM_SCALABLE : VTD_RTADDR_TTM_LEGACY);
	CHECK(page_is_zero(root), "%s: root table not empty", preset);
	CHECK_EQ(reg32(e, VTD_REG_FSTS) & VTD_FSTS_ERRORS, 0);
	if (queued) {
		uint64_t iqa = reg64(e, VTD_REG_IQA);

		CHECK(iqa & VTD_IQA_ADDR_MASK, "%s: IQA 0x%" PRIx64, preset,
		      iqa);
		/* 256-bit descriptors whenever the unit has scalable mode. */
		CHECK_EQ(!!(iqa & VTD_IQA_DW), smts);
		/* 256 slots: one page of 16 bytes or two of 32 (QS 0 / 1). */
		CHECK_EQ(iqa & 7, smts ? 1 : 0);
		CHECK_EQ(reg64(e, VTD_REG_IQH), reg64(e, VTD_REG_IQT));
	}
	TRY(vtd_unit_get_info(u, &info), "info");
	CHECK_EQ(info.scalable, scalable);
	CHECK_EQ(info.queued, queued);
	CHECK_EQ(info.translation_enabled, te);
	CHECK_EQ(info.domain_ids, 1u << (4 + 2 * VTD_CAP_ND(caps->cap)));
	CHECK_EQ(info.fault_records, VTD_CAP_NFR(caps->cap));
	if (queued) {
		CHECK_EQ(info.qi_entries, 256);
		CHECK_EQ(info.desc_bytes, smts ? 32 : 16);
	}

	/* The invalidations SRTP needs (VT-d spec §6.5.3.x), unless ESRTPS
	 * makes the unit do them itself. */
	vtdemu_stats_get(e, &st);
	if (caps->cap & VTD_CAP_ESRTPS) {
		CHECK_EQ(inv_count(&st, VTDEMU_DS_CC_GLOBAL), 0);
		CHECK_EQ(inv_count(&st, VTDEMU_DS_IOTLB_GLOBAL), 0);
	} else {
		CHECK(inv_count(&st, VTDEMU_DS_CC_GLOBAL) >= 1,
		      "%s: no global context-cache invalidation", preset);
		CHECK(inv_count(&st, VTDEMU_DS_IOTLB_GLOBAL) >= 1,
		      "%s: no global IOTLB invalidation", preset);
		if (scalable)
			CHECK(st.desc[VTDEMU_DS_PC_GLOBAL] >= 1,
			      "%s: no global PASID-cache invalidation", preset);
		else
			CHECK_EQ(st.desc[VTDEMU_DS_PC_GLOBAL], 0);
	}
	if (caps->cap & VTD_CAP_RWBF)
		CHECK(st.wbf >= 1, "%s: RWBF=1 and no write-buffer flush",
		      preset);
	else
		CHECK_EQ(st.wbf_ignored, 0);
	CHECK_EQ(st.invalid_descs, 0);
	CHECK_EQ(st.reg_inv_refused, 0);

	/* Tear-down. */
	TRY(vtd_unit_close(u), "%s: close", preset);
	gsts = reg32(e, VTD_REG_GSTS);
	CHECK(!!(gsts & VTD_GSTS_TES) == (te && !disable_te_on_close),
	      "%s: GSTS 0x%x after close (te %d, disable %d)", preset, gsts,
	      te, disable_te_on_close);
	CHECK(!(gsts & VTD_GSTS_QIES), "%s: QI still on after close", preset);
	if (te && !disable_te_on_close) {
		/* DMA blocked: the unit walks an empty root table, which the
		 * driver kept for it. */
		CHECK_EQ(reg64(e, VTD_REG_RTADDR) & VTD_PAGE_MASK, root);
		CHECK(page_is_zero(root), "%s: root table not empty at close",
		      preset);
		rte_free(vtd_emu_resolve(NULL, root, 4096));
	}
	vtdemu_destroy(e);
}

static void test_presets(void)
{
	const char *name;

	for (unsigned int i = 0; (name = vtdemu_preset_name(i)) != NULL; i++) {
		struct vtdemu_caps caps;

		REQUIRE(vtdemu_preset(name, &caps) == 0, "preset %s", name);
		for (int tm = VTD_TMODE_AUTO; tm <= VTD_TMODE_SCALABLE; tm++)
			for (int iv = VTD_INVAL_AUTO; iv <= VTD_INVAL_REGISTER;
			     iv++)
				one_bringup(name, &caps, tm, iv, true, false);
		one_bringup(name, &caps, VTD_TMODE_AUTO, VTD_INVAL_AUTO, false,
			    false);
		one_bringup(name, &caps, VTD_TMODE_AUTO, VTD_INVAL_AUTO, true,
			    true);
		/* The threaded emulator completes asynchronously. */
		drv_emu_mode = VTDEMU_THREADED;
		one_bringup(name, &caps, VTD_TMODE_AUTO, VTD_INVAL_AUTO, true,
			    false);
		drv_emu_mode = VTDEMU_INLINE;
	}
}

/* CAP.ESRTPS and CAP.RWBF flipped on presets that lack them. */
static void test_cap_flips(void)
{
	struct vtdemu_caps caps;
	char err[160];

	REQUIRE(vtdemu_preset("qemu-cm-on", &caps) == 0, "preset");
	caps.cap |= VTD_CAP_ESRTPS;
	one_bringup("qemu-cm-on+ESRTPS", &caps, VTD_TMODE_AUTO, VTD_INVAL_AUTO,
		    true, false);
	REQUIRE(vtdemu_preset("server", &caps) == 0, "preset");
	caps.cap &= ~VTD_CAP_ESRTPS;
	caps.cap |= VTD_CAP_RWBF;
	if (vtdemu_caps_check(&caps, err, sizeof(err)) == 0)
		one_bringup("server-ESRTPS+RWBF", &caps, VTD_TMODE_AUTO,
			    VTD_INVAL_AUTO, true, false);
	else
		printf("# skip server-ESRTPS+RWBF: %s\n", err);
	/* Non-coherent scalable walks (ECAP.SMPWC=0). */
	REQUIRE(vtdemu_preset("server", &caps) == 0, "preset");
	caps.ecap &= ~VTD_ECAP_SMPWC;
	one_bringup("server-SMPWC", &caps, VTD_TMODE_AUTO, VTD_INVAL_AUTO, true,
		    false);
}

/* Scalable-mode coherence has two halves (VT-d spec §11.4.3): ECAP.C says
 * whether the unit snoops the root, context, PASID-directory and
 * PASID-table entries it reads (in either mode); ECAP.SMPWC whether it can
 * snoop the paging structures, which it then does only for PASID entries
 * with PWSNP=1 (§9.6). So: PWSNP set where SMPWC, and table writes flushed
 * from the CPU caches unless both C and SMPWC (as Linux: clflush of
 * context and PASID entries on !ecap_coherent, PWSNP from ecap_smpwc). */
static void test_scalable_coherence(void)
{
	struct vtdemu_caps caps;
	struct vtd_unit_info info;
	struct vtd_domain_params dp;
	struct vtd_attach_params ap = { .pasid = VTD_NO_PASID };
	struct drv_env env;
	char err[160];

	for (int kind = 0; kind < 2; kind++) {
		struct vtd_domain *dom;
		uint64_t *pe;

		TRY(drv_open_preset(&env, "server"), "open server");
		vtd_domain_params_init(&dp);
		dp.kind = kind ? VTD_DOMAIN_FIRST_STAGE : VTD_DOMAIN_SECOND_STAGE;
		TRY(vtd_domain_create(env.u, &dp, &dom), "domain");
		ap.sid = 0x18;
		TRY(vtd_attach(dom, env.u, &ap), "attach");
		pe = vtd_pasid_entry(env.u, ap.sid, VTD_RID_PASID, false);
		REQUIRE(pe != NULL, "PASID entry");
		CHECK(pe[1] & VTD_PTE1_PWSNP, "%s domain on an SMPWC=1 unit: "
		      "PASID entry qw1 0x%" PRIx64 " without PWSNP: its page "
		      "walks are not snooped, yet the driver does not flush",
		      kind ? "first-stage" : "second-stage", pe[1]);
		TRY(vtd_detach(dom, env.u, ap.sid), "detach");
		TRY(vtd_domain_destroy(dom), "destroy");
		drv_close(&env);
	}

	/* SMPWC=1 but C=0: context and PASID entries are not snooped. */
	REQUIRE(vtdemu_preset("server", &caps) == 0, "preset");
	caps.ecap &= ~VTD_ECAP_C;
	if (vtdemu_caps_check(&caps, err, sizeof(err)) != 0) {
		printf("# skip server-C: %s\n", err);
		return;
	}
	TRY(drv_open(&env, &caps, NULL), "open server-C");
	TRY(vtd_unit_get_info(env.u, &info), "info");
	CHECK(info.scalable, "scalable");
	CHECK(!info.coherent, "scalable unit with ECAP.C=0 taken as coherent: "
	      "its context and PASID-table writes are never flushed");
	drv_close(&env);
}

/* Every public call rejects NULL arguments with -EINVAL and a log line,
 * and does not crash. The log is captured to count the lines. */
static char nulls_log[8192];

static bool logged_one(FILE *f, size_t *mark, const char *call)
{
	size_t now;

	fflush(f);
	now = strlen(nulls_log);
	if (now == *mark) {
		printf("# %s: rejected without a log line\n", call);
		return false;
	}
	*mark = now;
	return true;
}

static void test_null_args(void)
{
	struct drv_env env;
	struct vtd_domain *dom;
	struct vtd_unit_info info;
	struct vtd_attach_params ap = { .sid = 0x8, .pasid = VTD_NO_PASID };
	struct vtd_gather g = VTD_GATHER_INIT;
	struct vtd_fault f;
	FILE *old, *f_log;
	size_t mark = 0;
	uint32_t lvl;

	TRY(drv_open_preset(&env, "qemu-cm-off"), "open");
	TRY(vtd_domain_create(env.u, NULL, &dom), "domain");
	memset(nulls_log, 0, sizeof(nulls_log));
	f_log = fmemopen(nulls_log, sizeof(nulls_log) - 1, "w");
	REQUIRE(f_log != NULL, "fmemopen");
	old = rte_log_get_stream();
	rte_openlog_stream(f_log);
	lvl = rte_log_get_level(vtd_logtype);
	rte_log_set_level(vtd_logtype, RTE_LOG_ERR);
#define NULL_CASE(expr)                                                   \
	do {                                                              \
		long r_ = (long)(expr);                                   \
		CHECK(r_ == -EINVAL, "%s = %ld, expected -EINVAL", #expr, r_); \
		CHECK(logged_one(f_log, &mark, #expr), "%s: no log line", #expr); \
	} while (0)
	NULL_CASE(vtd_unit_open(NULL, NULL));
	NULL_CASE(vtd_unit_close(NULL));
	NULL_CASE(vtd_unit_get_info(NULL, &info));
	NULL_CASE(vtd_unit_get_info(env.u, NULL));
	NULL_CASE(vtd_fault_drain(NULL, &f, 1));
	NULL_CASE(vtd_domain_create(NULL, NULL, &dom));
	NULL_CASE(vtd_domain_create(env.u, NULL, NULL));
	NULL_CASE(vtd_domain_destroy(NULL));
	NULL_CASE(vtd_domain_id(NULL, env.u));
	NULL_CASE(vtd_domain_id(dom, NULL));
	NULL_CASE(vtd_attach(NULL, env.u, &ap));
	NULL_CASE(vtd_attach(dom, NULL, &ap));
	NULL_CASE(vtd_attach(dom, env.u, NULL));
	NULL_CASE(vtd_detach(NULL, env.u, 0x8));
	NULL_CASE(vtd_detach(dom, NULL, 0x8));
	NULL_CASE(vtd_map(NULL, 0, 0, 4096, VTD_PERM_READ));
	NULL_CASE(vtd_unmap(NULL, 0, 4096, &g));
	NULL_CASE(vtd_unmap(dom, 0, 4096, NULL));
	NULL_CASE(vtd_iova_to_phys(NULL, 0, NULL, NULL));
#undef NULL_CASE
	rte_log_set_level(vtd_logtype, lvl);
	rte_openlog_stream(old);
	fclose(f_log);
	TRY(vtd_domain_destroy(dom), "destroy");
	drv_close(&env);
}

/* Queue sizes: powers of two within IQA.QS (0..7) for the descriptor size. */
static void test_qi_entries(void)
{
	static const struct {
		const char *preset;
		uint32_t entries;
		int rc;
		unsigned int qs;
	} cases[] = {
		{ "qemu-cm-on", 256, 0, 0 },
		{ "qemu-cm-on", 1024, 0, 2 },
		{ "qemu-cm-on", 32768, 0, 7 },
		{ "qemu-cm-on", 65536, -EINVAL, 0 },
		{ "qemu-cm-on", 128, -EINVAL, 0 },   /* < one page of 16 B */
		{ "qemu-cm-on", 300, -EINVAL, 0 },   /* not a power of two */
		{ "server", 128, 0, 0 },             /* 256-bit: one page */
		{ "server", 16384, 0, 7 },
		{ "server", 32768, -EINVAL, 0 },
	};

	for (unsigned int i = 0; i < RTE_DIM(cases); i++) {
		struct vtdemu_caps caps;
		struct vtd_unit_params p;
		struct drv_env env;
		uint32_t l;
		int rc;

		REQUIRE(vtdemu_preset(cases[i].preset, &caps) == 0, "preset");
		vtd_unit_params_init(&p);
		p.name = "qi";
		p.qi_entries = cases[i].entries;
		l = drv_quiet();
		rc = drv_open(&env, &caps, &p);
		drv_loud(l);
		CHECK(rc == cases[i].rc, "%s qi_entries %u: rc %d, expected %d",
		      cases[i].preset, cases[i].entries, rc, cases[i].rc);
		if (rc == 0) {
			CHECK_EQ(reg64(env.emu, VTD_REG_IQA) & 7, cases[i].qs);
			drv_close(&env);
		}
	}
}

static void test_params(void)
{
	struct vtdemu_caps caps;
	struct vtd_unit_params p;
	struct vtd_unit *u = (struct vtd_unit *)1;
	struct vtdemu *e;
	char longname[64];

	REQUIRE(vtdemu_preset("server", &caps) == 0, "preset");
	e = drv_emu_new(&caps, false);
	REQUIRE(e != NULL, "emulator");

	EXPECT_RC(vtd_unit_open(NULL, &u), -EINVAL);
	drv_params(&p, e, "p");
	EXPECT_RC(vtd_unit_open(&p, NULL), -EINVAL);

	drv_params(&p, e, NULL);
	EXPECT_RC(vtd_unit_open(&p, &u), -EINVAL);
	CHECK(u == NULL, "*out not cleared on failure");
	drv_params(&p, e, "");
	EXPECT_RC(vtd_unit_open(&p, &u), -EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	drv_params(&p, e, longname);
	EXPECT_RC(vtd_unit_open(&p, &u), -EINVAL);

	drv_params(&p, e, "p");
	p.win.base = NULL;
	EXPECT_RC(vtd_unit_open(&p, &u), -EINVAL);
	drv_params(&p, e, "p");
	p.win.size = 64;
	EXPECT_RC(vtd_unit_open(&p, &u), -EINVAL);
	/* A window that misses the IOTLB / fault recording registers. */
	drv_params(&p, e, "p");
	if (vtd_regs_needed(caps.cap, caps.ecap) > 4096) {
		p.win.size = 4096;
		EXPECT_RC(vtd_unit_open(&p, &u), -EINVAL);
	}
	drv_params(&p, e, "p");
	p.tmode = (enum vtd_tmode)7;
	EXPECT_RC(vtd_unit_open(&p, &u), -EINVAL);
	drv_params(&p, e, "p");
	p.inval = (enum vtd_inval_mode)9;
	EXPECT_RC(vtd_unit_open(&p, &u), -EINVAL);
	/* real_hw needs IOVA as PA: this test runs in VA mode. */
	drv_params(&p, e, "p");
	p.real_hw = true;
	EXPECT_RC(vtd_unit_open(&p, &u), -ENOTSUP);
	/* Nothing above touched the unit. */
	CHECK_EQ(reg32(e, VTD_REG_GSTS), 0);
	vtdemu_destroy(e);

	/* Scalable asked on a legacy-only unit. */
	REQUIRE(vtdemu_preset("client", &caps) == 0, "preset");
	e = drv_emu_new(&caps, false);
	REQUIRE(e != NULL, "emulator");
	drv_params(&p, e, "p");
	p.tmode = VTD_TMODE_SCALABLE;
	EXPECT_RC(vtd_unit_open(&p, &u), -ENOTSUP);
	vtdemu_destroy(e);

	/* Queued asked on a unit without QI. */
	REQUIRE(vtdemu_preset("rwbf", &caps) == 0, "preset");
	e = drv_emu_new(&caps, false);
	REQUIRE(e != NULL, "emulator");
	drv_params(&p, e, "p");
	p.inval = VTD_INVAL_QUEUED;
	EXPECT_RC(vtd_unit_open(&p, &u), -ENOTSUP);
	vtdemu_destroy(e);

	EXPECT_RC(vtd_unit_close(NULL), -EINVAL);
}

/* A unit left with translation and QI on (an earlier owner): the driver
 * turns QI off before programming IQA, keeps translation on, and installs
 * its own root table. */
static void test_takeover(void)
{
	struct vtdemu_caps caps;
	struct vtd_unit_params p;
	struct vtd_unit *u;
	struct vtdemu *e;
	uint64_t first_root;

	REQUIRE(vtdemu_preset("qemu-cm-on", &caps) == 0, "preset");
	e = drv_emu_new(&caps, true);
	REQUIRE(e != NULL, "emulator");
	drv_params(&p, e, "first");
	TRY(vtd_unit_open(&p, &u), "first open");
	first_root = u->root.iova;
	/* Leave QI on behind the driver's back: tear down only the state. */
	TRY(vtd_unit_close(u), "first close");
	vtdemu_reg_write(e, VTD_REG_IQT, 0, 8);
	vtdemu_reg_write(e, VTD_REG_GCMD, VTD_GCMD_TE | VTD_GCMD_QIE, 4);
	CHECK(reg32(e, VTD_REG_GSTS) & VTD_GSTS_QIES, "QIE did not stick");

	drv_params(&p, e, "second");
	TRY(vtd_unit_open(&p, &u), "second open");
	CHECK(reg32(e, VTD_REG_GSTS) & VTD_GSTS_TES, "TE dropped");
	CHECK(reg32(e, VTD_REG_GSTS) & VTD_GSTS_QIES, "QI not re-enabled");
	CHECK((reg64(e, VTD_REG_RTADDR) & VTD_PAGE_MASK) == u->root.iova,
	      "RTADDR not the new root");
	CHECK(u->root.iova != first_root, "same root");
	TRY(vtd_unit_close(u), "second close");
	rte_free(vtd_emu_resolve(NULL, first_root, 4096));
	rte_free(vtd_emu_resolve(NULL,
				 reg64(e, VTD_REG_RTADDR) & VTD_PAGE_MASK,
				 4096));
	vtdemu_destroy(e);
}

/* vtd_emu_open owns its emulator; close destroys it (ASan would see a
 * leak otherwise). */
static void test_emu_open(void)
{
	struct vtdemu_config cfg;
	struct vtd_unit *u;
	struct vtdemu *e;
	struct vtd_unit_info info;

	vtdemu_config_init(&cfg);
	REQUIRE(vtdemu_preset("qemu-cm-on-scalable", &cfg.caps) == 0, "preset");
	TRY(vtd_emu_open(&cfg, NULL, &u, &e), "vtd_emu_open");
	CHECK(e != NULL, "no emulator returned");
	TRY(vtd_unit_get_info(u, &info), "info");
	CHECK(info.scalable, "not scalable");
	CHECK(!info.translation_enabled, "translation on by default");
	TRY(vtd_unit_close(u), "close");
	TRY(vtd_emu_open(NULL, NULL, &u, NULL), "vtd_emu_open defaults");
	TRY(vtd_unit_close(u), "close");
}

/* The resolver: DPDK memory resolves, other memory does not. */
static void test_resolver(void)
{
	uint8_t *dpdk = rte_malloc("r", 8192, 4096);
	static uint8_t not_dpdk[8192];
	uint64_t iova;

	REQUIRE(dpdk != NULL, "rte_malloc");
	iova = rte_malloc_virt2iova(dpdk);
	CHECK(vtd_emu_resolve(NULL, iova, 8) == dpdk, "DPDK memory");
	CHECK(vtd_emu_resolve(NULL, iova + 4096 + 8, 8) == dpdk + 4096 + 8,
	      "DPDK memory, second page");
	CHECK(vtd_emu_resolve(NULL, (uintptr_t)not_dpdk, 8) == NULL,
	      "static memory resolved");
	CHECK(vtd_emu_resolve(NULL, 0, 8) == NULL, "0 resolved");
	CHECK(vtd_emu_resolve(NULL, UINT64_MAX - 4, 8) == NULL, "wrap");
	rte_free(dpdk);
}

/* vtd_real_open's refusals, without /dev/mem: VA mode first. */
static void test_real_refusals(void)
{
	struct vtd_unit_params p;
	struct vtd_unit *u;
	char dir[] = "/tmp/uvtd-sysfs-XXXXXX", path[256];
	FILE *f;

	vtd_unit_params_init(&p);
	p.name = "real";
	EXPECT_RC(vtd_real_open(0xfed90000, 4096, &p, &u), -ENOTSUP);
	EXPECT_RC(vtd_real_open(0xfed90001, 4096, &p, &u), -EINVAL);
	EXPECT_RC(vtd_real_open(0, 4096, &p, &u), -EINVAL);

	/* The kernel-ownership check, on a fake /sys/class/iommu. */
	REQUIRE(mkdtemp(dir) != NULL, "mkdtemp");
	CHECK_EQ(vtd_kernel_owns_unit(dir, 0xfed90000), 0);
	snprintf(path, sizeof(path), "%s/dmar0", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/dmar0/intel-iommu", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/dmar0/intel-iommu/address", dir);
	f = fopen(path, "w");
	REQUIRE(f != NULL, "fake sysfs");
	fprintf(f, "fed90000\n");
	fclose(f);
	CHECK_EQ(vtd_kernel_owns_unit(dir, 0xfed90000), 1);
	CHECK_EQ(vtd_kernel_owns_unit(dir, 0xfed91000), 0);
	CHECK_EQ(vtd_kernel_owns_unit("/nonexistent/uvtd", 0xfed90000), 0);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dmar0/intel-iommu", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/dmar0", dir);
	rmdir(path);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	RTE_SET_USED(argc);
	if (uvtd_test_eal_init(argv[0], UVTD_EAL_VA) != 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	RUN(test_params);
	RUN(test_resolver);
	RUN(test_real_refusals);
	RUN(test_presets);
	RUN(test_cap_flips);
	RUN(test_scalable_coherence);
	RUN(test_null_args);
	RUN(test_qi_entries);
	RUN(test_takeover);
	RUN(test_emu_open);
	return TEST_SUMMARY();
}
