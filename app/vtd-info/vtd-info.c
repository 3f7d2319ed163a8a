/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-info: lists the VT-d units of an ACPI DMAR table (or an emulated unit)
 * and decodes their registers: VER/CAP/ECAP into named fields, GSTS, FSTS,
 * the invalidation queue and the fault records. Read-only: it never writes a
 * register. Not a DPDK process (no EAL), so it touches no device.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vtd_decode.h"
#include "vtd_dmar.h"
#include "vtd_hw.h"
#include "vtdemu.h"

struct opts {
	const char *dmar_path;
	bool regs;          /* map real units through /dev/mem */
	const char *emu_preset;
	bool emu_caps_given;
	struct vtdemu_caps emu_caps;
	bool json;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vtd-info [options]\n"
"Lists VT-d remapping units and decodes their registers (read-only).\n"
"\n"
"Units from the ACPI DMAR table (the default):\n"
"  --dmar PATH        DMAR table to read (default %s)\n"
"  --regs             also map each unit's registers through /dev/mem and\n"
"                     decode them. Only on a machine whose units are given to\n"
"                     uvtd (a QEMU guest booted with intel_iommu=off\n"
"                     iomem=relaxed); needs root.\n"
"An emulated unit (lib/vtdemu) instead:\n"
"  --emu PRESET       one of --list-presets\n"
"  --emu-cap HEX --emu-ecap HEX [--emu-ver HEX]\n"
"                     explicit capability registers (VER defaults to 0x10)\n"
"  --list-presets     the emulator's presets, with their CAP/ECAP\n"
"Output:\n"
"  --json             one JSON document instead of text\n"
"  -h, --help         this text\n"
"\n"
"Exit status: 0 ok, 1 a unit or table could not be read, 2 bad usage.\n",
		VTD_DMAR_DEFAULT_PATH);
}

static int parse_hex(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 16);
	return (errno || end == s || *end) ? -EINVAL : 0;
}

/* ------------------------------------------------------------------------
 * Register snapshot: everything decoded comes from here, so a real unit is
 * read once and the emulated one through the same path.
 */
struct regs_snapshot {
	uint32_t ver, gsts, fsts, ics;
	uint64_t cap, ecap, rtaddr, iqa, iqh, iqt, iqer;
	unsigned int nfr;
	struct { uint64_t lo, hi; } frcd[256];
};

static void snapshot(const volatile uint8_t *base, size_t size,
		     struct regs_snapshot *s)
{
#define R32(off) (*(const volatile uint32_t *)(base + (off)))
#define R64(off) (*(const volatile uint64_t *)(base + (off)))
	memset(s, 0, sizeof(*s));
	s->ver = R32(VTD_REG_VER);
	s->cap = R64(VTD_REG_CAP);
	s->ecap = R64(VTD_REG_ECAP);
	s->gsts = R32(VTD_REG_GSTS);
	s->fsts = R32(VTD_REG_FSTS);
	s->rtaddr = R64(VTD_REG_RTADDR);
	s->iqa = R64(VTD_REG_IQA);
	s->iqh = R64(VTD_REG_IQH);
	s->iqt = R64(VTD_REG_IQT);
	s->ics = R32(VTD_REG_ICS);
	s->iqer = R64(VTD_REG_IQER);
	s->nfr = (unsigned int)VTD_CAP_NFR(s->cap);
	for (unsigned int i = 0; i < s->nfr; i++) {
		uint64_t off = VTD_CAP_FRO(s->cap) + (uint64_t)i * VTD_FRCD_SIZE;

		if (off + VTD_FRCD_SIZE > size)
			break;
		s->frcd[i].lo = R64(off);
		s->frcd[i].hi = R64(off + 8);
	}
#undef R32
#undef R64
}

/* Bytes of register space a unit's CAP/ECAP say it has (§11.4): the IOTLB
 * registers at ECAP.IRO and the fault records at CAP.FRO, at least 4 KiB. */
static size_t regs_extent(uint64_t cap, uint64_t ecap)
{
	uint64_t end = 4096;
	uint64_t iotlb = VTD_ECAP_IRO(ecap) + 16;
	uint64_t frcd = VTD_CAP_FRO(cap) + VTD_CAP_NFR(cap) * VTD_FRCD_SIZE;

	if (iotlb > end)
		end = iotlb;
	if (frcd > end)
		end = frcd;
	return (size_t)((end + 4095) & ~4095ULL);
}

/* ------------------------------------------------------------------------
 * Printing
 */
static void print_fields_text(enum vtd_decode_reg reg, uint64_t value)
{
	unsigned int n;
	const struct vtd_field *f = vtd_decode_fields(reg, &n);
	char meaning[96];

	printf("  %s = 0x%" PRIx64 "\n", vtd_decode_reg_name(reg), value);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t v = vtd_field_value(&f[i], value);

		vtd_field_meaning(reg, &f[i], value, meaning, sizeof(meaning));
		printf("    %-8s %-8" PRIu64 " %s%s%s%s\n", f[i].name, v,
		       f[i].desc, meaning[0] ? " (" : "", meaning,
		       meaning[0] ? ")" : "");
	}
}

static void print_fields_json(enum vtd_decode_reg reg, uint64_t value)
{
	unsigned int n;
	const struct vtd_field *f = vtd_decode_fields(reg, &n);

	printf("\"%s\": {", vtd_decode_reg_name(reg));
	for (unsigned int i = 0; i < n; i++)
		printf("%s\"%s\": %" PRIu64, i ? ", " : "", f[i].name,
		       vtd_field_value(&f[i], value));
	printf("}");
}

static void print_regs_text(const struct regs_snapshot *s)
{
	unsigned int shift = (s->iqa & VTD_IQA_DW) ? VTD_IQ_SHIFT_256 : VTD_IQ_SHIFT_128;

	printf("  VER = 0x%x (version %u.%u)\n", s->ver, (s->ver >> 4) & 0xf,
	       s->ver & 0xf);
	print_fields_text(VTD_DECODE_CAP, s->cap);
	print_fields_text(VTD_DECODE_ECAP, s->ecap);
	print_fields_text(VTD_DECODE_GSTS, s->gsts);
	print_fields_text(VTD_DECODE_FSTS, s->fsts);
	printf("  RTADDR = 0x%" PRIx64 " (%s mode table)\n", s->rtaddr,
	       VTD_GET(s->rtaddr, 11, 10) == 1 ? "scalable" : "legacy");
	printf("  queue: IQA = 0x%" PRIx64 " (base 0x%" PRIx64 ", %s-bit, %u pages)"
	       " IQH = %" PRIu64 " IQT = %" PRIu64 " ICS = 0x%x IQER = 0x%" PRIx64 "\n",
	       s->iqa, s->iqa & VTD_IQA_ADDR_MASK,
	       (s->iqa & VTD_IQA_DW) ? "256" : "128", 1u << (s->iqa & 7),
	       (s->iqh & VTD_IQ_INDEX_MASK) >> shift,
	       (s->iqt & VTD_IQ_INDEX_MASK) >> shift, s->ics, s->iqer);
	printf("  fault records: %u at 0x%" PRIx64 "\n", s->nfr,
	       (uint64_t)VTD_CAP_FRO(s->cap));
	for (unsigned int i = 0; i < s->nfr; i++) {
		uint64_t hi = s->frcd[i].hi;

		if (!(hi & VTD_FRCD_HI_F))
			continue;
		printf("    [%u] reason 0x%02" PRIx64 " sid %02" PRIx64 ":%02" PRIx64
		       ".%" PRIx64 " %s addr 0x%" PRIx64 "%s\n", i,
		       VTD_FRCD_HI_FR(hi), VTD_FRCD_HI_SID(hi) >> 8,
		       (VTD_FRCD_HI_SID(hi) >> 3) & 0x1f, VTD_FRCD_HI_SID(hi) & 7,
		       (hi & VTD_FRCD_HI_T) ? "read" : "write",
		       VTD_FRCD_LO_FI(s->frcd[i].lo),
		       (hi & VTD_FRCD_HI_PP) ? " (with PASID)" : "");
	}
}

static void print_regs_json(const struct regs_snapshot *s)
{
	bool first = true;

	printf("\"registers\": {\"VER\": \"0x%x\", \"CAP\": \"0x%016" PRIx64
	       "\", \"ECAP\": \"0x%016" PRIx64 "\", \"GSTS\": \"0x%08x\", "
	       "\"FSTS\": \"0x%08x\", \"RTADDR\": \"0x%" PRIx64 "\", "
	       "\"IQA\": \"0x%" PRIx64 "\", \"IQH\": \"0x%" PRIx64 "\", "
	       "\"IQT\": \"0x%" PRIx64 "\", \"ICS\": \"0x%x\", \"IQER\": \"0x%"
	       PRIx64 "\"}, ", s->ver, s->cap, s->ecap, s->gsts, s->fsts,
	       s->rtaddr, s->iqa, s->iqh, s->iqt, s->ics, s->iqer);
	print_fields_json(VTD_DECODE_CAP, s->cap);
	printf(", ");
	print_fields_json(VTD_DECODE_ECAP, s->ecap);
	printf(", ");
	print_fields_json(VTD_DECODE_GSTS, s->gsts);
	printf(", ");
	print_fields_json(VTD_DECODE_FSTS, s->fsts);
	printf(", \"faults\": [");
	for (unsigned int i = 0; i < s->nfr; i++) {
		uint64_t hi = s->frcd[i].hi;

		if (!(hi & VTD_FRCD_HI_F))
			continue;
		printf("%s{\"index\": %u, \"reason\": %" PRIu64 ", \"sid\": %" PRIu64
		       ", \"read\": %s, \"addr\": \"0x%" PRIx64 "\"}",
		       first ? "" : ", ", i, VTD_FRCD_HI_FR(hi),
		       VTD_FRCD_HI_SID(hi), (hi & VTD_FRCD_HI_T) ? "true" : "false",
		       VTD_FRCD_LO_FI(s->frcd[i].lo));
		first = false;
	}
	printf("]");
}

/* ------------------------------------------------------------------------
 * Sources
 */
static void *no_memory(void *opaque, uint64_t addr, size_t len)
{
	(void)opaque;
	(void)addr;
	(void)len;
	return NULL; /* vtd-info never lets the unit reach memory */
}

static int show_emulated(const struct opts *o)
{
	struct vtdemu_config cfg;
	struct vtdemu *emu;
	struct regs_snapshot *s;
	char err[256];
	const char *label = o->emu_preset ? o->emu_preset : "explicit caps";

	vtdemu_config_init(&cfg);
	if (o->emu_preset) {
		if (vtdemu_preset(o->emu_preset, &cfg.caps) < 0) {
			fprintf(stderr, "vtd-info: unknown preset '%s' (see --list-presets)\n",
				o->emu_preset);
			return 2;
		}
	} else {
		cfg.caps = o->emu_caps;
	}
	if (vtdemu_caps_check(&cfg.caps, err, sizeof(err)) < 0) {
		fprintf(stderr, "vtd-info: impossible capabilities: %s\n", err);
		return 2;
	}
	cfg.resolve = no_memory;
	emu = vtdemu_create(&cfg, err, sizeof(err));
	if (!emu) {
		fprintf(stderr, "vtd-info: cannot create the emulated unit: %s\n", err);
		return 1;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		vtdemu_destroy(emu);
		return 1;
	}
	snapshot(vtdemu_regs(emu), vtdemu_regs_size(emu), s);
	if (o->json) {
		printf("{\"units\": [{\"source\": \"emulated\", \"preset\": \"%s\", ", label);
		print_regs_json(s);
		printf("}]}\n");
	} else {
		printf("unit 0: emulated (%s)\n", label);
		print_regs_text(s);
	}
	free(s);
	vtdemu_destroy(emu);
	return 0;
}

/* Maps a real unit's registers read-only. Only with --regs (see usage). */
static int map_unit(uint64_t base, size_t want, const volatile uint8_t **out,
		    size_t *size)
{
	int fd = open("/dev/mem", O_RDONLY | O_SYNC);
	void *p;

	if (fd < 0) {
		fprintf(stderr, "vtd-info: /dev/mem: %s (root, and iomem=relaxed on the kernel command line)\n",
			strerror(errno));
		return -errno;
	}
	p = mmap(NULL, want, PROT_READ, MAP_SHARED, fd, (off_t)base);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "vtd-info: mmap of 0x%" PRIx64 "+0x%zx: %s\n", base,
			want, strerror(errno));
		return -errno;
	}
	*out = p;
	*size = want;
	return 0;
}

static int show_dmar(const struct opts *o)
{
	struct vtd_dmar *dmar;
	char err[256];
	int rc, status = 0;
	const char *path = o->dmar_path ? o->dmar_path : VTD_DMAR_DEFAULT_PATH;

	rc = vtd_dmar_parse_file(path, &dmar, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "vtd-info: %s: %s\n", path, err);
		if (rc == -ENOENT && !o->dmar_path)
			fprintf(stderr, "vtd-info: no DMAR table: this machine reports no VT-d unit "
				"(try --emu PRESET for the emulated one)\n");
		return 1;
	}
	if (o->json)
		printf("{\"dmar\": {\"path\": \"%s\", \"haw\": %u, \"flags\": %u}, \"units\": [",
		       path, dmar->haw, dmar->flags);
	else
		vtd_dmar_print(dmar, stdout);

	for (unsigned int i = 0; i < dmar->ndrhd; i++) {
		const struct vtd_dmar_drhd *d = &dmar->drhd[i];

		if (o->json)
			printf("%s{\"source\": \"dmar\", \"index\": %u, \"base\": \"0x%" PRIx64
			       "\", \"segment\": %u, \"include_pci_all\": %s, \"scopes\": %u",
			       i ? ", " : "", i, d->base, d->segment,
			       (d->flags & VTD_DMAR_DRHD_F_INCLUDE_PCI_ALL) ? "true" : "false",
			       d->nscopes);
		else
			printf("unit %u: registers at 0x%" PRIx64 "\n", i, d->base);
		if (o->regs) {
			const volatile uint8_t *win;
			size_t size;
			struct regs_snapshot *s = calloc(1, sizeof(*s));

			if (!s || map_unit(d->base, d->reg_size ? d->reg_size : 4096, &win, &size) < 0) {
				free(s);
				status = 1;
			} else {
				uint64_t cap = *(const volatile uint64_t *)(win + VTD_REG_CAP);
				uint64_t ecap = *(const volatile uint64_t *)(win + VTD_REG_ECAP);
				size_t need = regs_extent(cap, ecap);

				if (cap == UINT64_MAX || ecap == UINT64_MAX) {
					/* All ones: nothing decodes there (Linux treats it as
					 * an invalid unit too). */
					fprintf(stderr, "vtd-info: unit %u reads all ones: not a VT-d unit\n", i);
					status = 1;
				} else {
					if (need > size) {
						munmap((void *)(uintptr_t)win, size);
						if (map_unit(d->base, need, &win, &size) < 0) {
							free(s);
							status = 1;
							goto next;
						}
					}
					snapshot(win, size, s);
					if (o->json) {
						printf(", ");
						print_regs_json(s);
					} else {
						print_regs_text(s);
					}
				}
				munmap((void *)(uintptr_t)win, size);
				free(s);
			}
		}
next:
		if (o->json)
			printf("}");
	}
	if (o->json)
		printf("]}\n");
	vtd_dmar_free(dmar);
	return status;
}

static void list_presets(bool json)
{
	struct vtdemu_caps c;
	const char *name;

	if (json)
		printf("{\"presets\": [");
	for (unsigned int i = 0; (name = vtdemu_preset_name(i)) != NULL; i++) {
		vtdemu_preset(name, &c);
		if (json)
			printf("%s{\"name\": \"%s\", \"ver\": \"0x%x\", \"cap\": \"0x%016" PRIx64
			       "\", \"ecap\": \"0x%016" PRIx64 "\", \"help\": \"%s\"}",
			       i ? ", " : "", name, c.ver, c.cap, c.ecap,
			       vtdemu_preset_help(i));
		else
			printf("%-26s CAP 0x%016" PRIx64 " ECAP 0x%016" PRIx64 "  %s\n",
			       name, c.cap, c.ecap, vtdemu_preset_help(i));
	}
	if (json)
		printf("]}\n");
}

int main(int argc, char **argv)
{
	enum { O_DMAR = 256, O_REGS, O_EMU, O_CAP, O_ECAP, O_VER, O_LIST, O_JSON };
	static const struct option longopts[] = {
		{ "dmar", required_argument, NULL, O_DMAR },
		{ "regs", no_argument, NULL, O_REGS },
		{ "emu", required_argument, NULL, O_EMU },
		{ "emu-cap", required_argument, NULL, O_CAP },
		{ "emu-ecap", required_argument, NULL, O_ECAP },
		{ "emu-ver", required_argument, NULL, O_VER },
		{ "list-presets", no_argument, NULL, O_LIST },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .emu_caps = { .ver = 0x10 } };
	bool cap_given = false, ecap_given = false, list = false;
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_DMAR: o.dmar_path = optarg; break;
		case O_REGS: o.regs = true; break;
		case O_EMU: o.emu_preset = optarg; break;
		case O_CAP:
		case O_ECAP:
		case O_VER:
			if (parse_hex(optarg, &v) < 0) {
				fprintf(stderr, "vtd-info: '%s' is not a hexadecimal number\n", optarg);
				return 2;
			}
			if (c == O_CAP) {
				o.emu_caps.cap = v;
				cap_given = true;
			} else if (c == O_ECAP) {
				o.emu_caps.ecap = v;
				ecap_given = true;
			} else {
				o.emu_caps.ver = (uint32_t)v;
			}
			break;
		case O_LIST: list = true; break;
		case O_JSON: o.json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vtd-info: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	if (list) {
		list_presets(o.json);
		return 0;
	}
	if (cap_given != ecap_given) {
		fprintf(stderr, "vtd-info: --emu-cap and --emu-ecap go together\n");
		return 2;
	}
	o.emu_caps_given = cap_given;
	if (o.emu_preset && o.emu_caps_given) {
		fprintf(stderr, "vtd-info: choose --emu PRESET or --emu-cap/--emu-ecap, not both\n");
		return 2;
	}
	if ((o.emu_preset || o.emu_caps_given) && (o.dmar_path || o.regs)) {
		fprintf(stderr, "vtd-info: --dmar/--regs describe real units; drop them with --emu\n");
		return 2;
	}
	if (o.emu_preset || o.emu_caps_given)
		return show_emulated(&o);
	return show_dmar(&o);
}
