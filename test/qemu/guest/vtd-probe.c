/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-probe: runs inside the QEMU guest (test/qemu/rig) and proves that
 * guest userspace reaches the VT-d unit: finds the DRHD in the ACPI DMAR
 * table, maps its register page through /dev/mem and prints VER, CAP, ECAP
 * and GSTS. With --expect-* it compares them with what the configuration
 * should report (shared docs, facts.md) and fails on a difference.
 *
 *   vtd-probe [--unit N] [--expect-ver HEX] [--expect-cap HEX]
 *             [--expect-ecap HEX] [--expect-te 0|1]
 *   vtd-probe --table FILE --parse-only     (parse a DMAR file, map nothing)
 *
 * Exit: 0 as expected, 1 a register differs from what was expected,
 * 2 the unit cannot be found or mapped, or bad usage.
 *
 * Only reads registers: the unit stays as the kernel left it
 * (intel_iommu=off: translation off).
 */
#include "guest_util.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Register offsets (VT-d §11.4). */
#define REG_VER 0x00
#define REG_CAP 0x08
#define REG_ECAP 0x10
#define REG_GSTS 0x1c
#define REG_FSTS 0x34
#define GSTS_TES (UINT32_C(1) << 31)
#define REG_PAGE 4096

static uint32_t rd32(volatile void *base, unsigned off)
{
	return *(volatile uint32_t *)((volatile uint8_t *)base + off);
}

static uint64_t rd64(volatile void *base, unsigned off)
{
	/* One 64-bit load: QEMU's unit accepts 8-byte accesses to its 64-bit
	 * registers, and a torn read of CAP would be a false mismatch. */
	return *(volatile uint64_t *)((volatile uint8_t *)base + off);
}

static unsigned bits(uint64_t v, unsigned hi, unsigned lo)
{
	return (unsigned)((v >> lo) & ((UINT64_C(1) << (hi - lo + 1)) - 1));
}

/* A few fields, for people reading a console log; the driver has the real
 * decoder. Bit positions: VT-d §11.4.2 (CAP) and §11.4.3 (ECAP). */
static void print_decoded(uint64_t cap, uint64_t ecap)
{
	printf("  cap:  ND=%u RWBF=%u CM=%u SAGAW=0x%x MGAW=%u FRO=0x%x SLLPS=0x%x "
	       "PSI=%u NFR=%u MAMV=%u\n",
	       bits(cap, 2, 0), bits(cap, 4, 4), bits(cap, 7, 7), bits(cap, 12, 8),
	       bits(cap, 21, 16) + 1, bits(cap, 33, 24) * 16, bits(cap, 37, 34),
	       bits(cap, 39, 39), bits(cap, 47, 40) + 1, bits(cap, 53, 48));
	printf("  ecap: C=%u QI=%u DT=%u IR=%u PT=%u SC=%u IRO=0x%x PASID=%u "
	       "SMTS=%u SLTS=%u\n",
	       bits(ecap, 0, 0), bits(ecap, 1, 1), bits(ecap, 2, 2), bits(ecap, 3, 3),
	       bits(ecap, 6, 6), bits(ecap, 7, 7), bits(ecap, 17, 8) * 16,
	       bits(ecap, 40, 40), bits(ecap, 43, 43), bits(ecap, 46, 46));
}

static int parse_hex(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 16);
	return errno == 0 && end != s && *end == '\0' ? 0 : -EINVAL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vtd-probe [--unit N] [--expect-ver HEX] [--expect-cap HEX]\n"
		   "                 [--expect-ecap HEX] [--expect-te 0|1]\n"
		   "       vtd-probe --table FILE --parse-only\n");
}

/* Compares one register with its expected value; counts mismatches. */
static void expect(const char *name, uint64_t got, int have_want, uint64_t want,
		   int *mismatches)
{
	if (!have_want)
		return;
	if (got == want) {
		printf("vtd-probe: %s matches 0x%016" PRIx64 "\n", name, want);
		return;
	}
	printf("vtd-probe: MISMATCH %s: read 0x%016" PRIx64 ", expected 0x%016" PRIx64
	       " (differing bits 0x%016" PRIx64 ")\n",
	       name, got, want, got ^ want);
	(*mismatches)++;
}

int main(int argc, char **argv)
{
	enum { O_VER = 256, O_CAP, O_ECAP, O_TE, O_TABLE, O_PARSE };
	static const struct option opts[] = {
		{ "unit", required_argument, NULL, 'u' },
		{ "expect-ver", required_argument, NULL, O_VER },
		{ "expect-cap", required_argument, NULL, O_CAP },
		{ "expect-ecap", required_argument, NULL, O_ECAP },
		{ "expect-te", required_argument, NULL, O_TE },
		{ "table", required_argument, NULL, O_TABLE },
		{ "parse-only", no_argument, NULL, O_PARSE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t want_ver = 0, want_cap = 0, want_ecap = 0, want_te = 0;
	int have_ver = 0, have_cap = 0, have_ecap = 0, have_te = 0;
	const char *table = GUEST_DMAR_PATH, *why;
	int parse_only = 0, mismatches = 0, c, err;
	unsigned unit = 0;
	struct guest_dmar dmar;
	volatile void *regs;
	uint64_t cap, ecap;
	uint32_t ver, gsts, fsts;

	while ((c = getopt_long(argc, argv, "u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			unit = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case O_VER:
			have_ver = parse_hex(optarg, &want_ver) == 0;
			break;
		case O_CAP:
			have_cap = parse_hex(optarg, &want_cap) == 0;
			break;
		case O_ECAP:
			have_ecap = parse_hex(optarg, &want_ecap) == 0;
			break;
		case O_TE:
			have_te = parse_hex(optarg, &want_te) == 0;
			break;
		case O_TABLE:
			table = optarg;
			break;
		case O_PARSE:
			parse_only = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		/* A value that does not parse would silently check nothing. */
		if ((c == O_VER && !have_ver) || (c == O_CAP && !have_cap) ||
		    (c == O_ECAP && !have_ecap) || (c == O_TE && !have_te)) {
			fprintf(stderr, "vtd-probe: '%s' is not a hex number\n", optarg);
			return 2;
		}
	}

	err = guest_dmar_read(table, &dmar, &why);
	if (err) {
		fprintf(stderr, "vtd-probe: %s: %s (%s)\n", table, why, strerror(-err));
		return 2;
	}
	printf("vtd-probe: DMAR host address width %u, flags 0x%02x, %u DRHD\n",
	       dmar.host_addr_width, dmar.flags, dmar.n_drhd);
	for (unsigned i = 0; i < dmar.n_drhd && i < 8; i++)
		printf("vtd-probe: DRHD %u: segment %u base 0x%" PRIx64 " flags 0x%02x%s\n", i,
		       dmar.drhd[i].segment, dmar.drhd[i].base, dmar.drhd[i].flags,
		       dmar.drhd[i].flags & 1 ? " (INCLUDE_PCI_ALL)" : "");
	if (parse_only)
		return 0;
	if (unit >= dmar.n_drhd || unit >= 8) {
		fprintf(stderr, "vtd-probe: no DRHD %u in %s\n", unit, table);
		return 2;
	}

	regs = guest_map_phys(dmar.drhd[unit].base, REG_PAGE);
	if (regs == NULL) {
		fprintf(stderr,
			"vtd-probe: cannot map 0x%" PRIx64 " through /dev/mem: %s "
			"(needs root and iomem=relaxed on the kernel command line)\n",
			dmar.drhd[unit].base, strerror(errno));
		return 2;
	}
	ver = rd32(regs, REG_VER);
	cap = rd64(regs, REG_CAP);
	ecap = rd64(regs, REG_ECAP);
	gsts = rd32(regs, REG_GSTS);
	fsts = rd32(regs, REG_FSTS);
	guest_unmap_phys(regs, REG_PAGE);

	printf("vtd-probe: unit %u VER=0x%08" PRIx32 " CAP=0x%016" PRIx64
	       " ECAP=0x%016" PRIx64 " GSTS=0x%08" PRIx32 " FSTS=0x%08" PRIx32 "\n",
	       unit, ver, cap, ecap, gsts, fsts);
	print_decoded(cap, ecap);
	/* All ones is what a read of nothing returns (Linux rejects such a unit). */
	if (cap == UINT64_MAX || ecap == UINT64_MAX) {
		fprintf(stderr, "vtd-probe: CAP/ECAP read all ones: no unit at this address\n");
		return 2;
	}

	expect("VER", ver, have_ver, want_ver, &mismatches);
	expect("CAP", cap, have_cap, want_cap, &mismatches);
	expect("ECAP", ecap, have_ecap, want_ecap, &mismatches);
	expect("GSTS.TES", (gsts & GSTS_TES) != 0, have_te, want_te, &mismatches);
	return mismatches ? 1 : 0;
}
