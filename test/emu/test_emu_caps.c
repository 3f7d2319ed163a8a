/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu capabilities: presets, vtdemu_caps_check, and units built from
 * them (VT-d spec §11.4.1 - §11.4.3).
 */
#include <errno.h>

#include "uvtd_test.h"
#include "vtdemu.h"
#include "vtdemu_testkit.h"


static struct vtk_arena arena;

static struct vtdemu *make(const struct vtdemu_caps *caps, char *err,
			   size_t errlen)
{
	struct vtdemu_config cfg;

	vtdemu_config_init(&cfg);
	cfg.caps = *caps;
	cfg.resolve = vtk_resolve;
	cfg.resolve_opaque = &arena;
	return vtdemu_create(&cfg, err, errlen);
}

/* Every preset passes the check, builds a unit, and reads back exactly. */
static void test_presets_roundtrip(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; vtdemu_preset_name(i) != NULL; i++, n++) {
		const char *name = vtdemu_preset_name(i);
		struct vtdemu_caps caps;
		char err[200] = "";

		CHECK(vtdemu_preset_help(i) != NULL, "%s has no help", name);
		TRY(vtdemu_preset(name, &caps), "%s", name);
		CHECK(vtdemu_caps_check(&caps, err, sizeof(err)) == 0,
		      "%s: %s", name, err);
		struct vtdemu *emu = make(&caps, err, sizeof(err));
		REQUIRE(emu != NULL, "%s: %s", name, err);
		CHECK_EQ(vtdemu_reg_read(emu, 0x00, 4), caps.ver);
		CHECK_EQ(vtdemu_reg_read(emu, 0x08, 8), caps.cap);
		CHECK_EQ(vtdemu_reg_read(emu, 0x10, 8), caps.ecap);
		/* Both halves of a 64-bit register read separately. */
		CHECK_EQ(vtdemu_reg_read(emu, 0x0c, 4), caps.cap >> 32);
		const volatile uint64_t *w = vtdemu_regs(emu);
		CHECK_EQ(w[1], caps.cap);
		CHECK_EQ(vtdemu_get_caps(emu)->ecap, caps.ecap);
		/* The window covers the IOTLB registers and every record. */
		size_t iro_end = ((caps.ecap >> 8) & 0x3ff) * 16 + 16;
		size_t fro_end = ((caps.cap >> 24) & 0x3ff) * 16 +
				 16 * (((caps.cap >> 40) & 0xff) + 1);
		CHECK(vtdemu_regs_size(emu) >= iro_end &&
		      vtdemu_regs_size(emu) >= fro_end &&
		      vtdemu_regs_size(emu) % 4096 == 0, "%s: size %zu", name,
		      vtdemu_regs_size(emu));
		/* Reset state (§10.4): nothing enabled, FECTL.IM set. */
		CHECK_EQ(vtdemu_reg_read(emu, 0x1c, 4), 0);
		CHECK_EQ(vtdemu_reg_read(emu, 0x38, 4), 1u << 31);
		vtdemu_destroy(emu);
	}
	CHECK(n == 11, "%u presets", n);
}

/* The QEMU presets are exactly the values measured (facts.md). */
static void test_qemu_values(void)
{
	static const struct {
		const char *name;
		uint64_t cap, ecap;
	} v[] = {
		{ "qemu-cm-on", 0x00D2008C22260286ull, 0xF42 },
		{ "qemu-cm-off", 0x00D2008C22260206ull, 0xF42 },
		{ "qemu-cm-on-aw48", 0x00D2008C222F0686ull, 0xF42 },
		{ "qemu-cm-on-devtlb", 0x00D2008C22260286ull, 0xF46 },
		{ "qemu-cm-on-scalable", 0x00D2008C22260286ull,
		  0x0000480080000F42ull },
		{ "qemu-cm-on-scalable-pasid", 0x00D2008C22260286ull,
		  0x0000490080000F42ull },
		{ "qemu-aw48-snoop", 0x00D2008C222F0606ull, 0xFC2 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct vtdemu_caps c;
		TRY(vtdemu_preset(v[i].name, &c), "%s", v[i].name);
		CHECK(c.ver == 0x10 && c.cap == v[i].cap && c.ecap == v[i].ecap,
		      "%s: ver %x cap %" PRIx64 " ecap %" PRIx64, v[i].name,
		      c.ver, c.cap, c.ecap);
	}
	struct vtdemu_caps c;
	CHECK(vtdemu_preset("no-such-unit", &c) == -ENOENT, "unknown name");
	CHECK(vtdemu_preset_name(1000) == NULL, "past the end");
}

/* What the hand-made presets promise (vtdemu.h). */
static void test_preset_fields(void)
{
	struct vtdemu_caps s, c, r, n;

	TRY(vtdemu_preset("server", &s), "server");
	TRY(vtdemu_preset("client", &c), "client");
	TRY(vtdemu_preset("rwbf", &r), "rwbf");
	TRY(vtdemu_preset("nd0", &n), "nd0");
	/* server: SMTS, FLTS, SLTS, PASID, DT, PSI, NFR 8, SMPWC, C, ESRTPS,
	 * MAMV 9, SLLPS 2M+1G, SAGAW 48+57, ND 6, QI, PT, SC, DRD/DWD. */
	CHECK(s.ecap & (1ull << 43), "server SMTS");
	CHECK((s.ecap >> 46 & 3) == 3, "server FLTS+SLTS");
	CHECK(s.ecap & (1ull << 40), "server PASID");
	CHECK(s.ecap & (1ull << 2), "server DT");
	CHECK(s.cap & (1ull << 39), "server PSI");
	CHECK(((s.cap >> 40) & 0xff) + 1 == 8, "server NFR");
	CHECK((s.ecap & (1ull << 48)) && (s.ecap & 1), "server SMPWC and C");
	CHECK(s.cap >> 63, "server ESRTPS");
	CHECK(((s.cap >> 48) & 0x3f) == 9, "server MAMV");
	CHECK(((s.cap >> 34) & 3) == 3, "server SLLPS");
	CHECK(((s.cap >> 8) & 0x1f) == 0xc, "server SAGAW");
	CHECK((s.cap & 7) == 6, "server ND");
	CHECK((s.ecap & 0xc2) == 0xc2, "server QI PT SC");
	CHECK(((s.cap >> 54) & 3) == 3, "server DWD DRD");
	/* client: legacy only, no PSI, C=0, NFR 1, RWBF 0, ND 2, SAGAW 39+48. */
	CHECK(!(c.ecap & (1ull << 43)), "client legacy");
	CHECK(!(c.cap & (1ull << 39)), "client no PSI");
	CHECK(!(c.ecap & 1), "client C=0");
	CHECK(((c.cap >> 40) & 0xff) == 0, "client NFR");
	CHECK(!(c.cap & (1ull << 4)), "client RWBF 0");
	CHECK((c.cap & 7) == 2, "client ND");
	CHECK(((c.cap >> 8) & 0x1f) == 0x6, "client SAGAW");
	CHECK(r.cap & (1ull << 4), "rwbf RWBF");
	CHECK((n.cap & 7) == 0, "nd0 ND");
}

/* Real units' values (from their boot logs) must be accepted. */
static void test_real_hardware(void)
{
	static const struct vtdemu_caps real[] = {
		/* Intel client GPU unit (Skylake..Tiger Lake): MGAW 39 with
		 * 4-level tables, FL1GP without FLTS. */
		{ 0x10, 0x1c0000c40660462ull, 0x19e2ff0505eull },
		/* Its sibling for the rest of the platform. */
		{ 0x10, 0x1c0000c40660462ull, 0xf050daull },
		/* A Broadwell server unit: fault records at 0x100. */
		{ 0x10, 0xd2078c106f0466ull, 0xf020deull },
		/* A Sapphire Rapids unit: scalable mode, ESRTPS. */
		{ 0x60, 0xd9de008cee690462ull, 0x12ca9a00f0ef5eull },
	};
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		char err[200] = "";
		CHECK(vtdemu_caps_check(&real[i], err, sizeof(err)) == 0,
		      "cap %" PRIx64 " ecap %" PRIx64 ": %s", real[i].cap,
		      real[i].ecap, err);
		struct vtdemu *emu = make(&real[i], err, sizeof(err));
		CHECK(emu != NULL, "%s", err);
		vtdemu_destroy(emu);
	}
}

struct bad_case {
	const char *what;
	uint64_t cap_clear, cap_set, ecap_clear, ecap_set;
	uint32_t ver;
	const char *field;  /* must appear in the message */
};

/* Impossible combinations are rejected with a message naming the field. */
static void test_impossible(void)
{
	const uint64_t all = ~0ull;
	static const struct bad_case cases[] = {
		{ "SAGAW=0", 0x1full << 8, 0, 0, 0, 0, "CAP.SAGAW" },
		{ "SAGAW reserved bit 0", 0x1full << 8, 0x1ull << 8, 0, 0, 0,
		  "CAP.SAGAW" },
		{ "ND=7", 7, 7, 0, 0, 0, "CAP.ND" },
		{ "MGAW 48 beyond 39-bit tables", 0x3full << 16, 47ull << 16,
		  0, 0, 0, "CAP.MGAW" },
		{ "MGAW below 30", 0x3full << 16, 20ull << 16, 0, 0, 0,
		  "CAP.MGAW" },
		{ "IRO in the architectural registers", 0, 0, 0x3ffull << 8,
		  0x8ull << 8, 0, "ECAP.IRO" },
		{ "IRO 0", 0, 0, 0x3ffull << 8, 0, 0, "ECAP.IRO" },
		{ "FRO in the architectural registers", 0x3ffull << 24,
		  0x4ull << 24, 0, 0, 0, "CAP.FRO" },
		{ "FRO on the IOTLB registers", 0x3ffull << 24, 0xfull << 24,
		  0, 0, 0, "CAP.FRO" },
		{ "IOTLB registers in the MTRR block", 0, 0, 0x3ffull << 8,
		  (0x10ull << 8) | (1ull << 25), 0, "ECAP.IRO" },
		{ "IR without QI", 0, 0, 1ull << 1, 1ull << 3, 0, "ECAP.IR" },
		{ "DT without QI", 0, 0, 1ull << 1, 1ull << 2, 0, "ECAP.DT" },
		{ "SMTS without SLTS/FLTS/PT", 0, 0, (1ull << 46) |
		  (1ull << 47) | (1ull << 6), 1ull << 43, 0, "ECAP.SMTS" },
		{ "SMTS without QI", 0, 0, 1ull << 1, (1ull << 43) |
		  (1ull << 46), 0, "ECAP.SMTS" },
		{ "VER 0.x", 0, 0, 0, 0, 0x01, "VER" },
		{ "all ones", 0, all, 0, all, 0, "all ones" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *b = &cases[i];
		struct vtdemu_caps c;
		char err[200] = "";

		TRY(vtdemu_preset("qemu-cm-on", &c), "preset");
		c.cap = (c.cap & ~b->cap_clear) | b->cap_set;
		c.ecap = (c.ecap & ~b->ecap_clear) | b->ecap_set;
		if (b->ver)
			c.ver = b->ver;
		CHECK(vtdemu_caps_check(&c, err, sizeof(err)) == -EINVAL,
		      "%s accepted", b->what);
		CHECK(strstr(err, b->field) != NULL, "%s: message '%s' lacks %s",
		      b->what, err, b->field);
		/* vtdemu_create refuses it with the same reason. */
		char err2[200] = "";
		struct vtdemu *emu = make(&c, err2, sizeof(err2));
		CHECK(emu == NULL && strstr(err2, b->field) != NULL,
		      "%s: create says '%s'", b->what, err2);
		vtdemu_destroy(emu);
	}
}

/* Odd but valid: MAMV with PSI=0 (MAMV is then ignored, §11.4.2), 256
 * fault records (NFR=255 must not wrap), a first-stage-only scalable unit
 * with no SAGAW. */
static void test_odd_but_valid(void)
{
	struct vtdemu_caps c;
	char err[200] = "";

	TRY(vtdemu_preset("client", &c), "client");
	c.cap |= 18ull << 48;
	CHECK(vtdemu_caps_check(&c, err, sizeof(err)) == 0, "MAMV/PSI=0: %s",
	      err);

	TRY(vtdemu_preset("qemu-cm-off", &c), "qemu");
	c.cap = (c.cap & ~(0xffull << 40) & ~(0x3ffull << 24)) |
		(255ull << 40) | (0x100ull << 24); /* FRO 0x1000 */
	CHECK(vtdemu_caps_check(&c, err, sizeof(err)) == 0, "NFR 255: %s", err);
	struct vtdemu *emu = make(&c, err, sizeof(err));
	REQUIRE(emu != NULL, "%s", err);
	CHECK(vtdemu_regs_size(emu) == 0x2000, "size %zu",
	      vtdemu_regs_size(emu));
	/* The last record's top dword is inside the window and reads 0. */
	CHECK_EQ(vtdemu_reg_read(emu, 0x1000 + 255 * 16 + 12, 4), 0);
	vtdemu_destroy(emu);

	TRY(vtdemu_preset("server", &c), "server");
	c.cap &= ~(0x1full << 8);
	c.cap = (c.cap & ~(0x3full << 16)) | (47ull << 16);
	c.ecap &= ~(1ull << 46);
	CHECK(vtdemu_caps_check(&c, err, sizeof(err)) == 0,
	      "first-stage only: %s", err);
}

int main(void)
{
	if (vtk_arena_init(&arena, 0, 1 << 20) != 0)
		return 1;
	RUN(test_presets_roundtrip);
	RUN(test_qemu_values);
	RUN(test_preset_fields);
	RUN(test_real_hardware);
	RUN(test_impossible);
	RUN(test_odd_but_valid);
	vtk_arena_fini(&arena);
	return TEST_SUMMARY();
}
