/* SPDX-License-Identifier: BSD-3-Clause
 * Devices by PCI address and RMRR identity maps, from a DMAR table whose
 * units are emulated (dmar=<table>,dmar_emu=<preset>): the server table of
 * test/unit/dmar (compiled by iasl at build time, passed as argv[1]) with an
 * empty sysfs, so that only single-hop scopes and the catch-all units
 * match.
 *
 * server.asl: DRHD 0 (00:02.0 endpoint, ...), DRHD 1 (segment 0 catch-all),
 * DRHD 2 and 3 (segment 1); RMRR 0 [0x3e2e0000, 0x3e2fffff] and RMRR 2
 * [0x3e400000, 0x3e400fff] for 00:14.0, RMRR 1 [0x3f000000, 0x3f7fffff] for
 * 00:02.0.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "uvtd_test.h"
#include "uvtd_eal.h"
#include "uvtd.h"
#include "uvtd_internal.h"
#include "uvtd_vtd_ops.h"
#include "vtdemu.h"

#define PG 4096ull

static void test_lookup(void)
{
	int usb = uvtd_dev_open_pci("00:14.0");
	int gpu = uvtd_dev_open_pci("0000:00:02.0");
	int seg1 = uvtd_dev_open_pci("0001:85:00.0");

	CHECK_EQ(uvtd_unit_count(), 4);
	REQUIRE(usb >= 0 && gpu >= 0 && seg1 >= 0, "open: %d %d %d", usb, gpu,
		seg1);
	CHECK_EQ(uvtd_dev_unit(gpu), 0);    /* named by DRHD 0 */
	CHECK_EQ(uvtd_dev_unit(usb), 1);    /* segment 0's catch-all */
	CHECK_EQ(uvtd_dev_unit(seg1), 3);   /* segment 1's catch-all */
	CHECK_EQ(uvtd_dev_open_pci("00:14.0"), -EEXIST);
	CHECK_EQ(uvtd_dev_open_pci("not-a-bdf"), -EINVAL);
	CHECK_EQ(uvtd_dev_close(seg1), 0);
}

static void expect_identity(unsigned int unit, uint16_t rid, uint64_t addr)
{
	uint64_t pa = 0;
	int rc = vtdemu_translate(uvtd_vtd_emu(unit), rid, VTDEMU_NO_PASID,
				  addr, VTDEMU_ACCESS_WRITE, &pa, NULL);

	CHECK(rc == 0 && pa == addr, "rid %04x 0x%" PRIx64 ": rc %d pa 0x%"
	      PRIx64, rid, addr, rc, pa);
}

/* 00:14.0 (opened in test_lookup; rid 0x00a0, RMRR 0 and 2) and a strict
 * domain on its unit. 0, or -1 when either is missing. */
static int usb_and_domain(int *usb, int *d)
{
	struct uvtd_domain_conf c;

	*usb = -1;
	for (int i = 0; i < UVTD_MAX_DEVICES; i++)
		if (uvtd.devs[i].open && uvtd.devs[i].rid == 0x00a0)
			*usb = i;
	uvtd_domain_conf_init(&c);
	c.unit = 1;
	c.policy = UVTD_POLICY_STRICT;
	*d = *usb >= 0 ? uvtd_domain_create(&c) : -1;
	return *usb >= 0 && *d >= 0 ? 0 : -1;
}

static void test_rmrr_identity(void)
{
	struct uvtd_domain_info info;
	int usb, d;

	REQUIRE(usb_and_domain(&usb, &d) == 0, "00:14.0 and a domain");
	CHECK_EQ(uvtd_attach(d, usb), 0);
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.mappings, 2);
	CHECK_EQ(info.mapped_bytes, 0x20000 + 0x1000);
	/* 00:14.0 is rid 0x00a0: both ranges translate to themselves. */
	expect_identity(1, 0x00a0, 0x3e2e0000);
	expect_identity(1, 0x00a0, 0x3e2ff000);
	expect_identity(1, 0x00a0, 0x3e400000);
	/* They are live fixed mappings like any other. */
	CHECK_EQ(uvtd_map_fixed(d, 0x3e2f0000, 0x1000, PG, UVTD_PERM_RW), -EEXIST);
	CHECK_EQ(uvtd_unmap(d, 0x3e2e0000, PG), -EINVAL);   /* partial */
	CHECK_EQ(uvtd_detach(d, usb), 0);
	CHECK_EQ(uvtd_domain_destroy(d), 0);
}

/* An RMRR range is shared only with its own identity map: a fixed map of
 * the same range elsewhere refuses the attach (-EEXIST), and the attach
 * takes back the identity maps it had made (all or none). */
static void test_rmrr_conflict(void)
{
	struct uvtd_domain_info info;
	int usb, d;

	REQUIRE(usb_and_domain(&usb, &d) == 0, "00:14.0 and a domain");
	/* RMRR 2's page, mapped somewhere else. */
	CHECK_EQ(uvtd_map_fixed(d, 0x3e400000, 0x1000, PG, UVTD_PERM_RW), 0);
	CHECK_EQ(uvtd_attach(d, usb), -EEXIST);
	uvtd_domain_info_get(d, &info);
	CHECK(info.mappings == 1 && info.ndevices == 0, "after the refused "
	      "attach: %" PRIu64 " mappings, %u devices", info.mappings,
	      info.ndevices);
	/* RMRR 0's identity map, made before RMRR 2 failed, is gone. */
	CHECK_EQ(uvtd_unmap(d, 0x3e2e0000, 0x20000), -ENOENT);
	/* Its identity map, but read-only: the firmware's agents write. */
	CHECK_EQ(uvtd_unmap(d, 0x3e400000, PG), 0);
	CHECK_EQ(uvtd_map_fixed(d, 0x3e400000, 0x3e400000, PG, UVTD_PERM_READ),
		 0);
	CHECK_EQ(uvtd_attach(d, usb), -EEXIST);
	CHECK_EQ(uvtd_unmap(d, 0x3e2e0000, 0x20000), -ENOENT);
	/* Its own identity map, read and write, is shared. */
	CHECK_EQ(uvtd_unmap(d, 0x3e400000, PG), 0);
	CHECK_EQ(uvtd_map_fixed(d, 0x3e400000, 0x3e400000, PG, UVTD_PERM_RW), 0);
	CHECK_EQ(uvtd_attach(d, usb), 0);
	uvtd_domain_info_get(d, &info);
	CHECK_EQ(info.mappings, 2);
	expect_identity(1, 0x00a0, 0x3e2e0000);
	expect_identity(1, 0x00a0, 0x3e400000);
	CHECK_EQ(uvtd_detach(d, usb), 0);
	CHECK_EQ(uvtd_domain_destroy(d), 0);
}

int main(int argc, char **argv)
{
	char args[512], sysfs[] = "/tmp/uvtd-svc-sysfs-XXXXXX";
	int rc;

	if (argc < 2 || access(argv[1], R_OK) != 0) {
		printf("skip: no compiled DMAR table (iasl missing?)\n");
		return 77;
	}
	if (uvtd_test_eal_init(argv[0], UVTD_EAL_VA) < 0)
		return 1;
	if (mkdtemp(sysfs) == NULL)
		return 1;
	snprintf(args, sizeof(args), "dmar=%s,dmar_emu=qemu-cm-off,sysfs=%s",
		 argv[1], sysfs);
	rc = uvtd_init(args);
	if (rc) {
		fprintf(stderr, "uvtd_init(%s): %d\n", args, rc);
		rmdir(sysfs);
		return 1;
	}
	rte_log_set_level(uvtd_logtype, RTE_LOG_CRIT);
	RUN(test_lookup);
	RUN(test_rmrr_identity);
	RUN(test_rmrr_conflict);
	CHECK_EQ(uvtd_fini(), 0);
	rmdir(sysfs);
	return TEST_SUMMARY();
}
