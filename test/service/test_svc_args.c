/* SPDX-License-Identifier: BSD-3-Clause
 * The uvtd_init() argument string: defaults, every key, and bad strings
 * refused before anything is opened.
 */
#include <errno.h>

#include "uvtd_test.h"
#include "uvtd_eal.h"
#include "uvtd_internal.h"
#include "svc_fake_drv.h"

static void test_defaults(void)
{
	struct uvtd_conf c;

	CHECK_EQ(uvtd_args_parse(NULL, &c), 0);
	CHECK_EQ(c.nunits, 1);
	CHECK(strcmp(c.units[0].preset, "server") == 0, "default preset %s",
	      c.units[0].preset);
	CHECK_EQ(c.policy, UVTD_POLICY_AUTO);
	CHECK_EQ(c.lazy_entries, 256);
	CHECK_EQ(c.lazy_timeout_us, 10000);
	CHECK(strcmp(c.driver, "vtd") == 0, "driver %s", c.driver);
	CHECK_EQ(uvtd_args_parse("", &c), 0);
	CHECK_EQ(c.nunits, 1);
}

static void test_every_key(void)
{
	struct uvtd_conf c;
	int rc;

	rc = uvtd_args_parse("emu=qemu-cm-on,emu=00D2008C22260206:0000000000000F42,"
			     "emu_mode=threaded,policy=batched,qi_size=512,"
			     "lazy_entries=64,lazy_timeout_us=500,"
			     "iova_size=0x40000000,guard=1,psi_threshold=32,"
			     "driver=fake,sysfs=/tmp/sys,force=1", &c);
	REQUIRE(rc == 0, "parse: %d", rc);
	CHECK_EQ(c.nunits, 2);
	CHECK_EQ(c.units[0].kind, UVTD_UNIT_EMU_PRESET);
	CHECK(strcmp(c.units[0].preset, "qemu-cm-on") == 0, "preset");
	CHECK_EQ(c.units[1].kind, UVTD_UNIT_EMU_CAPS);
	CHECK_EQ(c.units[1].caps[0], 0x00D2008C22260206ull);
	CHECK_EQ(c.units[1].caps[1], 0xF42);
	CHECK(c.units[1].emu_threaded, "threaded");
	CHECK_EQ(c.units[0].qi_entries, 512);
	CHECK_EQ(c.units[1].psi_threshold, 32);
	CHECK_EQ(c.policy, UVTD_POLICY_BATCHED);
	CHECK_EQ(c.lazy_entries, 64);
	CHECK_EQ(c.lazy_timeout_us, 500);
	CHECK_EQ(c.iova_size, 1ull << 30);
	CHECK(c.guard, "guard");
	CHECK(strcmp(c.driver, "fake") == 0, "driver");
	CHECK(strcmp(c.sysfs, "/tmp/sys") == 0, "sysfs");
	CHECK(c.force && c.units[0].force && c.units[1].force, "force");
	rc = uvtd_args_parse("dmar=sys", &c);
	CHECK_EQ(rc, 0);
	CHECK_EQ(c.nunits, 0);       /* the table's units only */
	CHECK(strcmp(c.dmar, "sys") == 0, "dmar");
	CHECK(!c.force, "force is off by default");
	CHECK_EQ(uvtd_args_parse("dmar=sys,force=0", &c), 0);
	CHECK(!c.force, "force=0");
	CHECK_EQ(uvtd_args_parse("dmar=sys,force=1", &c), 0);
	CHECK(c.force, "force=1");
}

static void test_bad_strings(void)
{
	static const char *const bad[] = {
		"bogus=1",                    /* unknown key */
		"policy=fast",                /* unknown policy */
		"policy",                     /* no value */
		"qi_size=100",                /* not a power of two */
		"qi_size=0",
		"qi_size=65536",              /* too large */
		"lazy_entries=0",
		"lazy_entries=-5",
		"lazy_entries=12abc",
		"lazy_timeout_us=0",
		"iova_size=4097",             /* not page aligned */
		"iova_size=",
		"guard=2",
		"force=2",                    /* 0 or 1 */
		"force=yes",
		"force=",
		"psi_threshold=0",
		"emu_mode=fast",
		"emu=",
		"emu=:",
		"emu=12:",
		"emu=xyz:12",
		"emu=a,emu=b,emu=c,emu=d,emu=e,emu=f,emu=g,emu=h,emu=i", /* 9 */
		"emu=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* too long */
		"driver=",
		"dmar_emu=server",            /* without dmar= */
		"=strict",
	};
	struct uvtd_conf c;

	for (unsigned int i = 0; i < RTE_DIM(bad); i++)
		CHECK(uvtd_args_parse(bad[i], &c) == -EINVAL, "'%s' accepted",
		      bad[i]);
}

/* uvtd_init refuses the same strings and opens nothing; then a good start
 * and a second start (-EALREADY). */
static void test_init_refusals(void)
{
	CHECK_EQ(uvtd_init("policy=fast"), -EINVAL);
	CHECK_EQ(uvtd_unit_count(), 0);
	CHECK_EQ(uvtd_init("driver=nosuch"), -EINVAL);
	CHECK_EQ(uvtd_unit_count(), 0);
	/* A unit that fails to open: nothing stays open. */
	CHECK(uvtd_init("driver=fake,emu=fake,emu=nosuchpreset") < 0, "bad unit");
	CHECK_EQ(uvtd_unit_count(), 0);
	CHECK_EQ(uvtd_init("driver=fake,emu=fake-cm,emu=fake"), 0);
	CHECK_EQ(uvtd_unit_count(), 2);
	CHECK_EQ(uvtd_init("driver=fake,emu=fake"), -EALREADY);
	CHECK_EQ(uvtd_unit_count(), 2);
	CHECK_EQ(uvtd_fini(), 0);
	CHECK_EQ(uvtd_unit_count(), 0);
	CHECK_EQ(uvtd_fini(), -EINVAL);
	{
		struct uvtd_fault f[1];

		/* No service: no unit to drain. */
		CHECK_EQ(uvtd_faults_drain(0, f, 1), -ENODEV);
	}
}

int main(int argc, char **argv)
{
	(void)argc;
	if (uvtd_test_eal_init(argv[0], UVTD_EAL_VA) < 0)
		return 1;
	fake_drv_register();
	/* The refusals log by design; keep the output for the failures. */
	rte_log_set_level(uvtd_logtype, RTE_LOG_CRIT);
	RUN(test_defaults);
	RUN(test_every_key);
	RUN(test_bad_strings);
	RUN(test_init_refusals);
	return TEST_SUMMARY();
}
