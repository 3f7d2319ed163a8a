/* SPDX-License-Identifier: BSD-3-Clause
 * The ACPI DMAR table parser and its device queries (see vtd_dmar.h).
 *
 * Section numbers (§) are those of the Intel Virtualization Technology for
 * Directed I/O Architecture Specification, rev 4.x, chapter 8 "BIOS
 * Considerations"; they have not moved since rev 3.0.
 *
 * The table comes from firmware and is trusted for nothing: every read is
 * bounds-checked against the table's validated length, every loop advances
 * by at least the minimum size of what it walks (a length of 0 is an error,
 * not an endless loop), and the table is validated completely in a first
 * pass before anything is allocated.
 */
#include "vtd_dmar.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Small helpers
 */

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A malformed-table message: what is wrong, then where. */
static int __attribute__((format(printf, 4, 5)))
bad_table(char *err, size_t errlen, uint32_t offset, const char *fmt, ...)
{
	char what[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	set_err(err, errlen, "DMAR: %s at byte offset %" PRIu32 " (0x%" PRIx32
		")", what, offset, offset);
	return -EINVAL;
}

/* ACPI tables are little-endian (ACPI spec §5.2); read byte by byte so that
 * neither alignment nor host byte order matters. */
static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static const char *struct_name(uint16_t type)
{
	switch (type) {
	case VTD_DMAR_TYPE_DRHD: return "DRHD";
	case VTD_DMAR_TYPE_RMRR: return "RMRR";
	case VTD_DMAR_TYPE_ATSR: return "ATSR";
	case VTD_DMAR_TYPE_RHSA: return "RHSA";
	case VTD_DMAR_TYPE_ANDD: return "ANDD";
	case VTD_DMAR_TYPE_SATC: return "SATC";
	default: return "reserved-type structure";
	}
}

const char *vtd_dmar_scope_type_name(uint8_t type)
{
	switch (type) {
	case VTD_DMAR_SCOPE_PCI_ENDPOINT: return "PCI endpoint";
	case VTD_DMAR_SCOPE_PCI_SUBHIERARCHY: return "PCI bridge";
	case VTD_DMAR_SCOPE_IOAPIC: return "IOAPIC";
	case VTD_DMAR_SCOPE_HPET: return "HPET";
	case VTD_DMAR_SCOPE_ACPI_NAMESPACE: return "ACPI namespace device";
	default: return "reserved";
	}
}

/* ------------------------------------------------------------------------
 * Parsing: one walker, run twice. The first run (b->fill false) validates
 * and counts; the second fills arrays sized from those counts. The second
 * run sees the same bytes, so it cannot fail where the first succeeded.
 */

struct builder {
	bool fill;
	unsigned ndrhd, nrmrr, natsr, nrhsa, nandd, nsatc, nunknown;
	unsigned nscopes, nhops;
	size_t name_bytes;

	/* Fill mode only. */
	struct vtd_dmar_drhd *drhd;
	struct vtd_dmar_rmrr *rmrr;
	struct vtd_dmar_atsr *atsr;
	struct vtd_dmar_rhsa *rhsa;
	struct vtd_dmar_andd *andd;
	struct vtd_dmar_satc *satc;
	struct vtd_dmar_scope *scopes;
	struct vtd_dmar_path_hop *hops;
	char *names;
};

/*
 * Device scope entries between start and end (§8.3.1): type (1), length (1),
 * flags (1), reserved (1), enumeration id (1), start bus (1), then a path of
 * (device, function) byte pairs. The path has at least one hop, since it is
 * what names the device.
 */
static int parse_scopes(const uint8_t *t, uint32_t start, uint32_t end,
			uint16_t owner, struct builder *b,
			const struct vtd_dmar_scope **first, unsigned *count,
			char *err, size_t errlen)
{
	uint32_t off = start;
	unsigned n = 0, first_index = b->nscopes;

	while (off < end) {
		uint32_t left = end - off;
		uint8_t type, len;
		unsigned hops, i;

		if (left < 2)
			return bad_table(err, errlen, off,
				"%s has %" PRIu32 " trailing byte(s), too few "
				"for a device scope entry", struct_name(owner),
				left);
		type = t[off];
		len = t[off + 1];
		if (len < VTD_DMAR_SCOPE_MIN_LEN)
			return bad_table(err, errlen, off,
				"device scope length %u is below the minimum "
				"of %u (6 bytes and one path hop)", len,
				VTD_DMAR_SCOPE_MIN_LEN);
		if (len > left)
			return bad_table(err, errlen, off,
				"device scope length %u runs past the end of "
				"its %s (%" PRIu32 " bytes left)", len,
				struct_name(owner), left);
		if ((len - 6) % 2 != 0)
			return bad_table(err, errlen, off,
				"device scope length %u leaves half a path "
				"entry", len);
		hops = (len - 6u) / 2u;
		for (i = 0; i < hops; i++) {
			uint8_t d = t[off + 6 + 2 * i];
			uint8_t f = t[off + 7 + 2 * i];

			/* A PCI device number is 5 bits, a function 3. */
			if (d > 31 || f > 7)
				return bad_table(err, errlen, off + 6 + 2 * i,
					"device scope path hop %u is %02x.%x, "
					"out of range (device 0-31, function "
					"0-7)",
					i + 1, d, f);
			if (b->fill) {
				b->hops[b->nhops + i].device = d;
				b->hops[b->nhops + i].function = f;
			}
		}
		if (b->fill) {
			struct vtd_dmar_scope *s = &b->scopes[b->nscopes];

			s->offset = off;
			s->type = type;
			s->length = len;
			s->flags = t[off + 2];
			s->enumeration_id = t[off + 4];
			s->start_bus = t[off + 5];
			s->path_len = (uint8_t)hops;
			s->path = &b->hops[b->nhops];
		}
		b->nhops += hops;
		b->nscopes++;
		n++;
		off += len;
	}
	/* No pointer into an array that may not exist (zero scopes). */
	*first = b->fill && n > 0 ? &b->scopes[first_index] : NULL;
	*count = n;
	return 0;
}

/* §8.3: DMA Remapping Hardware Unit Definition. Flags (byte 4), size
 * (byte 5, bits 3:0: the register set is 2^N 4 KiB pages; reserved 0 before
 * rev 4.0, which reads as the one page older units have), segment (6..7),
 * register base address (8..15), then device scopes. */
static int parse_drhd(const uint8_t *t, uint32_t off, uint16_t len,
		      struct builder *b, char *err, size_t errlen)
{
	struct vtd_dmar_drhd d = {0};
	int ret;

	d.offset = off;
	d.flags = t[off + 4];
	d.size_field = t[off + 5] & 0x0f;
	d.segment = le16(t + off + 6);
	d.base = le64(t + off + 8);
	d.reg_size = UINT64_C(4096) << d.size_field;
	/* The driver maps this address: refuse what cannot be a register
	 * page rather than map something else (Linux refuses 0 as well). */
	if (d.base == 0)
		return bad_table(err, errlen, off + 8,
				 "DRHD register base address is 0");
	if (d.base & 0xfff)
		return bad_table(err, errlen, off + 8,
			"DRHD register base address 0x%" PRIx64
			" is not 4 KiB aligned", d.base);
	if (d.base > UINT64_MAX - (d.reg_size - 1))
		return bad_table(err, errlen, off + 8,
			"DRHD register set at 0x%" PRIx64 " of 0x%" PRIx64
			" bytes wraps past the end of the address space",
			d.base, d.reg_size);
	ret = parse_scopes(t, off + VTD_DMAR_DRHD_MIN_LEN, off + len,
			   VTD_DMAR_TYPE_DRHD, b, &d.scopes, &d.nscopes, err,
			   errlen);
	if (ret)
		return ret;
	if (b->fill)
		b->drhd[b->ndrhd] = d;
	b->ndrhd++;
	return 0;
}

/* §8.4: Reserved Memory Region Reporting. Reserved (4..5), segment (6..7),
 * base (8..15), limit (16..23, inclusive), then endpoint/bridge scopes. */
static int parse_rmrr(const uint8_t *t, uint32_t off, uint16_t len,
		      struct builder *b, char *err, size_t errlen)
{
	struct vtd_dmar_rmrr r = {0};
	int ret;

	r.offset = off;
	r.segment = le16(t + off + 6);
	r.base = le64(t + off + 8);
	r.limit = le64(t + off + 16);
	if (r.base > r.limit)
		return bad_table(err, errlen, off + 8,
			"RMRR base 0x%" PRIx64 " is above its limit 0x%" PRIx64,
			r.base, r.limit);
	ret = parse_scopes(t, off + VTD_DMAR_RMRR_MIN_LEN, off + len,
			   VTD_DMAR_TYPE_RMRR, b, &r.scopes, &r.nscopes, err,
			   errlen);
	if (ret)
		return ret;
	if (b->fill)
		b->rmrr[b->nrmrr] = r;
	b->nrmrr++;
	return 0;
}

/* §8.5: Root Port ATS Capability Reporting. Flags (4), reserved (5),
 * segment (6..7), then the root ports (sub-hierarchy scopes) that support
 * ATS; with ALL_PORTS set the list is empty and every root port does. */
static int parse_atsr(const uint8_t *t, uint32_t off, uint16_t len,
		      struct builder *b, char *err, size_t errlen)
{
	struct vtd_dmar_atsr a = {0};
	int ret;

	a.offset = off;
	a.flags = t[off + 4];
	a.segment = le16(t + off + 6);
	ret = parse_scopes(t, off + VTD_DMAR_ATSR_MIN_LEN, off + len,
			   VTD_DMAR_TYPE_ATSR, b, &a.scopes, &a.nscopes, err,
			   errlen);
	if (ret)
		return ret;
	if (b->fill)
		b->atsr[b->natsr] = a;
	b->natsr++;
	return 0;
}

/* §8.6: Remapping Hardware Static Affinity. Reserved (4..7), register base
 * address of the unit (8..15), proximity domain (16..19). No scopes. */
static void parse_rhsa(const uint8_t *t, uint32_t off, struct builder *b)
{
	if (b->fill) {
		struct vtd_dmar_rhsa *r = &b->rhsa[b->nrhsa];

		r->offset = off;
		r->base = le64(t + off + 8);
		r->proximity_domain = le32(t + off + 16);
		r->drhd = -1; /* linked once all DRHDs are known */
	}
	b->nrhsa++;
}

/* §8.7: ACPI Name-space Device Declaration. Reserved (4..6), ACPI device
 * number (7), then the object name, NUL-terminated, up to the end of the
 * structure. The NUL is required: the name is used as a C string (Linux
 * refuses an unterminated name too). */
static int parse_andd(const uint8_t *t, uint32_t off, uint16_t len,
		      struct builder *b, char *err, size_t errlen)
{
	const uint8_t *name = t + off + 8;
	const uint8_t *nul = memchr(name, 0, len - 8u);
	size_t n;

	if (nul == NULL)
		return bad_table(err, errlen, off + 8,
			"ANDD object name is not NUL-terminated within its "
			"%u bytes", len - 8u);
	n = (size_t)(nul - name) + 1;
	if (b->fill) {
		struct vtd_dmar_andd *a = &b->andd[b->nandd];
		char *dst = b->names + b->name_bytes;

		memcpy(dst, name, n);
		a->offset = off;
		a->device_number = t[off + 7];
		a->name = dst;
	}
	b->name_bytes += n;
	b->nandd++;
	return 0;
}

/* §8.8: SoC Integrated Address Translation Cache. Flags (4), reserved (5),
 * segment (6..7), then the endpoint scopes of the integrated devices. */
static int parse_satc(const uint8_t *t, uint32_t off, uint16_t len,
		      struct builder *b, char *err, size_t errlen)
{
	struct vtd_dmar_satc s = {0};
	int ret;

	s.offset = off;
	s.flags = t[off + 4];
	s.segment = le16(t + off + 6);
	ret = parse_scopes(t, off + VTD_DMAR_SATC_MIN_LEN, off + len,
			   VTD_DMAR_TYPE_SATC, b, &s.scopes, &s.nscopes, err,
			   errlen);
	if (ret)
		return ret;
	if (b->fill)
		b->satc[b->nsatc] = s;
	b->nsatc++;
	return 0;
}

static uint16_t min_struct_len(uint16_t type)
{
	switch (type) {
	case VTD_DMAR_TYPE_DRHD: return VTD_DMAR_DRHD_MIN_LEN;
	case VTD_DMAR_TYPE_RMRR: return VTD_DMAR_RMRR_MIN_LEN;
	case VTD_DMAR_TYPE_ATSR: return VTD_DMAR_ATSR_MIN_LEN;
	case VTD_DMAR_TYPE_RHSA: return VTD_DMAR_RHSA_MIN_LEN;
	case VTD_DMAR_TYPE_ANDD: return VTD_DMAR_ANDD_MIN_LEN;
	case VTD_DMAR_TYPE_SATC: return VTD_DMAR_SATC_MIN_LEN;
	default: return 4; /* its type and length */
	}
}

/* §8.2: the remapping structures follow the 48-byte header back to back,
 * each starting with type (2 bytes) and length (2 bytes, header included). */
static int walk(const uint8_t *t, uint32_t len, struct builder *b, char *err,
		size_t errlen)
{
	uint32_t off = VTD_DMAR_HEADER_LEN;

	while (off < len) {
		uint32_t left = len - off;
		uint16_t type, slen, min;
		int ret = 0;

		if (left < 4)
			return bad_table(err, errlen, off,
				"%" PRIu32 " trailing byte(s), too few for a "
				"remapping structure header", left);
		type = le16(t + off);
		slen = le16(t + off + 2);
		min = min_struct_len(type);
		if (slen < min)
			return bad_table(err, errlen, off,
				"%s (type %u) length %u is below its minimum "
				"of %u", struct_name(type), type, slen, min);
		if (slen > left)
			return bad_table(err, errlen, off,
				"%s (type %u) length %u runs past the end of "
				"the table (%" PRIu32 " bytes left)",
				struct_name(type), type, slen, left);
		switch (type) {
		case VTD_DMAR_TYPE_DRHD:
			ret = parse_drhd(t, off, slen, b, err, errlen);
			break;
		case VTD_DMAR_TYPE_RMRR:
			ret = parse_rmrr(t, off, slen, b, err, errlen);
			break;
		case VTD_DMAR_TYPE_ATSR:
			ret = parse_atsr(t, off, slen, b, err, errlen);
			break;
		case VTD_DMAR_TYPE_RHSA:
			parse_rhsa(t, off, b);
			break;
		case VTD_DMAR_TYPE_ANDD:
			ret = parse_andd(t, off, slen, b, err, errlen);
			break;
		case VTD_DMAR_TYPE_SATC:
			ret = parse_satc(t, off, slen, b, err, errlen);
			break;
		default:
			/* §8.2: types beyond those known are reserved for
			 * future use; software skips them by their length. */
			b->nunknown++;
			break;
		}
		if (ret)
			return ret;
		off += slen;
	}
	return 0;
}

/* Header checks (§8.1 and ACPI spec §5.2.6): signature, length, checksum,
 * host address width. */
static int check_header(const uint8_t *t, size_t buflen, uint32_t *table_len,
			char *err, size_t errlen)
{
	uint32_t len, i;
	uint8_t sum = 0;
	unsigned haw;

	if (buflen < VTD_DMAR_ACPI_HEADER_LEN)
		return bad_table(err, errlen, 0,
			"buffer of %zu bytes is shorter than the %u-byte ACPI "
			"table header", buflen, VTD_DMAR_ACPI_HEADER_LEN);
	if (memcmp(t, "DMAR", 4) != 0)
		return bad_table(err, errlen, 0,
			"signature is \"%c%c%c%c\", not \"DMAR\"",
			t[0] >= 0x20 && t[0] < 0x7f ? t[0] : '?',
			t[1] >= 0x20 && t[1] < 0x7f ? t[1] : '?',
			t[2] >= 0x20 && t[2] < 0x7f ? t[2] : '?',
			t[3] >= 0x20 && t[3] < 0x7f ? t[3] : '?');
	len = le32(t + 4);
	if (len < VTD_DMAR_HEADER_LEN)
		return bad_table(err, errlen, 4,
			"table length %" PRIu32 " is shorter than the %u-byte "
			"DMAR header", len, VTD_DMAR_HEADER_LEN);
	if (len > buflen)
		return bad_table(err, errlen, 4,
			"table length %" PRIu32 " is larger than the buffer "
			"(%zu bytes)", len, buflen);
	for (i = 0; i < len; i++)
		sum = (uint8_t)(sum + t[i]);
	if (sum != 0)
		return bad_table(err, errlen, 9,
			"checksum mismatch: the table's bytes sum to 0x%02x "
			"mod 256, not 0", sum);
	/* The field holds N-1 for an N-bit DMA physical address width. An
	 * address narrower than a page, or wider than 64 bits, is nonsense
	 * (Linux also refuses widths under 12 bits). */
	haw = (unsigned)t[36] + 1;
	if (haw < 12 || haw > 64)
		return bad_table(err, errlen, 36,
			"host address width %u bits is outside 12..64", haw);
	*table_len = len;
	return 0;
}

static void copy_id(char *dst, const uint8_t *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* One allocation holds the table and all its arrays; carve() hands out
 * suitably aligned pieces of it in order. */
static void *carve(uint8_t **cursor, size_t bytes)
{
	const size_t align = sizeof(uint64_t) > sizeof(void *) ?
			     sizeof(uint64_t) : sizeof(void *);
	uintptr_t p = (uintptr_t)*cursor;

	p = (p + align - 1) & ~(uintptr_t)(align - 1);

	*cursor = (uint8_t *)p + bytes;
	return bytes ? (void *)p : NULL;
}

int vtd_dmar_parse(const void *buf, size_t len, struct vtd_dmar **out,
		   char *err, size_t errlen)
{
	const uint8_t *t = buf;
	struct builder count = {0}, fill = {0};
	struct vtd_dmar *d;
	uint32_t table_len = 0;
	size_t total, slack;
	uint8_t *base, *cursor;
	unsigned i, j;
	int ret;

	if (out == NULL) {
		set_err(err, errlen, "vtd_dmar_parse: out is NULL");
		return -EINVAL;
	}
	*out = NULL;
	if (buf == NULL) {
		set_err(err, errlen, "vtd_dmar_parse: buf is NULL");
		return -EINVAL;
	}
	ret = check_header(t, len, &table_len, err, errlen);
	if (ret)
		return ret;
	ret = walk(t, table_len, &count, err, errlen);
	if (ret)
		return ret;

	/* Sizes are bounded by the table length (< 4 GiB), so no overflow. */
	slack = 8 * sizeof(uint64_t); /* alignment padding between pieces */
	total = sizeof(*d) + slack +
		count.ndrhd * sizeof(struct vtd_dmar_drhd) +
		count.nrmrr * sizeof(struct vtd_dmar_rmrr) +
		count.natsr * sizeof(struct vtd_dmar_atsr) +
		count.nrhsa * sizeof(struct vtd_dmar_rhsa) +
		count.nandd * sizeof(struct vtd_dmar_andd) +
		count.nsatc * sizeof(struct vtd_dmar_satc) +
		count.nscopes * sizeof(struct vtd_dmar_scope) +
		count.nhops * sizeof(struct vtd_dmar_path_hop) +
		count.name_bytes;
	base = calloc(1, total);
	if (base == NULL) {
		set_err(err, errlen, "DMAR: out of memory (%zu bytes)", total);
		return -ENOMEM;
	}
	cursor = base;
	d = carve(&cursor, sizeof(*d));
	fill.fill = true;
	fill.drhd = carve(&cursor, count.ndrhd * sizeof(*fill.drhd));
	fill.rmrr = carve(&cursor, count.nrmrr * sizeof(*fill.rmrr));
	fill.atsr = carve(&cursor, count.natsr * sizeof(*fill.atsr));
	fill.rhsa = carve(&cursor, count.nrhsa * sizeof(*fill.rhsa));
	fill.andd = carve(&cursor, count.nandd * sizeof(*fill.andd));
	fill.satc = carve(&cursor, count.nsatc * sizeof(*fill.satc));
	fill.scopes = carve(&cursor, count.nscopes * sizeof(*fill.scopes));
	fill.hops = carve(&cursor, count.nhops * sizeof(*fill.hops));
	fill.names = carve(&cursor, count.name_bytes);
	ret = walk(t, table_len, &fill, err, errlen);
	if (ret) { /* cannot happen: the same bytes passed the first walk */
		free(base);
		return ret;
	}

	d->length = table_len;
	d->revision = t[8];
	d->checksum = t[9];
	copy_id(d->oem_id, t + 10, 6);
	copy_id(d->oem_table_id, t + 16, 8);
	d->oem_revision = le32(t + 24);
	copy_id(d->creator_id, t + 28, 4);
	d->creator_revision = le32(t + 32);
	d->haw = (unsigned)t[36] + 1;
	d->flags = t[37];
	d->ndrhd = fill.ndrhd;
	d->nrmrr = fill.nrmrr;
	d->natsr = fill.natsr;
	d->nrhsa = fill.nrhsa;
	d->nandd = fill.nandd;
	d->nsatc = fill.nsatc;
	d->nunknown = fill.nunknown;
	d->nscopes = fill.nscopes;

	/* §8.6: an RHSA names its unit by register base address. One that
	 * names no unit is kept (drhd = -1) and shown by the summary: Linux
	 * only warns about it, and it costs nothing but the NUMA hint. */
	for (i = 0; i < fill.nrhsa; i++) {
		for (j = 0; j < fill.ndrhd; j++) {
			if (fill.drhd[j].base != fill.rhsa[i].base)
				continue;
			fill.rhsa[i].drhd = (int)j;
			if (!fill.drhd[j].has_proximity) {
				fill.drhd[j].has_proximity = true;
				fill.drhd[j].proximity_domain =
					fill.rhsa[i].proximity_domain;
			}
			break;
		}
	}
	d->drhd = fill.drhd;
	d->rmrr = fill.rmrr;
	d->atsr = fill.atsr;
	d->rhsa = fill.rhsa;
	d->andd = fill.andd;
	d->satc = fill.satc;
	*out = d;
	return 0;
}

int vtd_dmar_parse_file(const char *path, struct vtd_dmar **out, char *err,
			size_t errlen)
{
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	int fd, ret;

	if (out == NULL) {
		set_err(err, errlen, "vtd_dmar_parse_file: out is NULL");
		return -EINVAL;
	}
	*out = NULL;
	if (path == NULL)
		path = VTD_DMAR_DEFAULT_PATH;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		set_err(err, errlen, "DMAR: cannot open %s: %s", path,
			strerror(-ret));
		return ret;
	}
	/* Read to end of file rather than trust st_size: sysfs and procfs
	 * files may report a size of 0 or 4096 whatever they hold. */
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *nbuf;

			if (cap > VTD_DMAR_MAX_FILE_SIZE) {
				set_err(err, errlen, "DMAR: %s is larger than "
					"%u bytes", path,
					VTD_DMAR_MAX_FILE_SIZE);
				ret = -EFBIG;
				goto out;
			}
			nbuf = realloc(buf, ncap);
			if (nbuf == NULL) {
				set_err(err, errlen, "DMAR: out of memory "
					"reading %s", path);
				ret = -ENOMEM;
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			set_err(err, errlen, "DMAR: cannot read %s: %s", path,
				strerror(-ret));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > VTD_DMAR_MAX_FILE_SIZE) {
		set_err(err, errlen, "DMAR: %s is larger than %u bytes", path,
			VTD_DMAR_MAX_FILE_SIZE);
		ret = -EFBIG;
		goto out;
	}
	/* An empty file still goes to the parser, which says why it is
	 * not a table; buf may be NULL only if nothing was ever allocated,
	 * which cannot happen since the loop allocates before reading. */
	ret = vtd_dmar_parse(buf, len, out, err, errlen);
out:
	free(buf);
	close(fd);
	return ret;
}

void vtd_dmar_free(struct vtd_dmar *dmar)
{
	/* The table and every array it points to are one allocation. */
	free(dmar);
}

/* ------------------------------------------------------------------------
 * Topology from sysfs
 */

int vtd_dmar_bdf_parse(const char *str, struct vtd_dmar_bdf *out)
{
	unsigned seg = 0, bus, dev, fn;
	int pos = 0;

	if (str == NULL || out == NULL)
		return -EINVAL;
	if (sscanf(str, "%4x:%2x:%2x.%1x%n", &seg, &bus, &dev, &fn,
		   &pos) != 4 || str[pos] != '\0') {
		seg = 0;
		pos = 0;
		if (sscanf(str, "%2x:%2x.%1x%n", &bus, &dev, &fn, &pos) != 3 ||
		    str[pos] != '\0')
			return -EINVAL;
	}
	/* sscanf's %x accepts a sign and "0x"; a BDF has neither. */
	if (strpbrk(str, "+-xX ") != NULL)
		return -EINVAL;
	if (seg > 0xffff || bus > 0xff || dev > 31 || fn > 7)
		return -EINVAL;
	out->segment = (uint16_t)seg;
	out->bus = (uint8_t)bus;
	out->device = (uint8_t)dev;
	out->function = (uint8_t)fn;
	return 0;
}

/*
 * The secondary and subordinate bus numbers of a PCI-to-PCI bridge, from its
 * configuration space as sysfs exposes it. 0; -ENOENT if the device is
 * absent or the bridge has no bus behind it yet (unconfigured); -ENODEV if
 * it is not a bridge; another negative errno if the file cannot be read.
 */
static int read_bridge_buses(const char *root, uint16_t seg, uint8_t bus,
			     uint8_t dev, uint8_t fn, uint8_t *sec,
			     uint8_t *sub)
{
	/* Config offsets (PCI Local Bus spec 3.0, §6.1 and the PCI-to-PCI
	 * Bridge spec §3.2): header type 0x0E (bits 6:0, 1 = bridge),
	 * secondary bus 0x19, subordinate bus 0x1A. Unprivileged readers
	 * see the first 64 bytes of config space, which is enough. */
	uint8_t cfg[0x1b];
	char path[PATH_MAX];
	ssize_t n;
	int fd, len, e;

	len = snprintf(path, sizeof(path),
		       "%s/bus/pci/devices/%04x:%02x:%02x.%x/config", root, seg,
		       bus, dev, fn);
	if (len < 0 || (size_t)len >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do {
		n = pread(fd, cfg, sizeof(cfg), 0);
	} while (n < 0 && errno == EINTR);
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	if ((size_t)n < sizeof(cfg))
		return -EIO;
	if ((cfg[0x0e] & 0x7f) != 1)
		return -ENODEV;
	/* A bridge whose secondary bus is still 0 (or whose range is empty)
	 * has not been enumerated: nothing lies behind it. */
	if (cfg[0x19] == 0 || cfg[0x1a] < cfg[0x19])
		return -ENOENT;
	*sec = cfg[0x19];
	*sub = cfg[0x1a];
	return 0;
}

static bool is_pci_scope(uint8_t type)
{
	return type == VTD_DMAR_SCOPE_PCI_ENDPOINT ||
	       type == VTD_DMAR_SCOPE_PCI_SUBHIERARCHY;
}

/* §8.3.1: the path is walked from start_bus. Every hop but the last is a
 * bridge whose secondary bus is the bus of the next hop. */
static int resolve_path(const char *root, uint16_t seg,
			const struct vtd_dmar_scope *s,
			struct vtd_dmar_bdf *out)
{
	uint8_t bus = s->start_bus;
	unsigned i;

	for (i = 0; i + 1 < s->path_len; i++) {
		uint8_t sec, sub;
		int ret = read_bridge_buses(root, seg, bus, s->path[i].device,
					    s->path[i].function, &sec, &sub);
		if (ret)
			return ret;
		bus = sec;
	}
	out->segment = seg;
	out->bus = bus;
	out->device = s->path[s->path_len - 1].device;
	out->function = s->path[s->path_len - 1].function;
	return 0;
}

int vtd_dmar_scope_resolve(const char *sysfs_root, uint16_t segment,
			   const struct vtd_dmar_scope *scope,
			   struct vtd_dmar_bdf *out, uint8_t *bus_lo,
			   uint8_t *bus_hi)
{
	unsigned i;
	int ret;

	if (scope == NULL || out == NULL || !is_pci_scope(scope->type) ||
	    scope->path_len == 0 || scope->path == NULL)
		return -EINVAL;
	for (i = 0; i < scope->path_len; i++)
		if (scope->path[i].device > 31 || scope->path[i].function > 7)
			return -EINVAL;
	if (sysfs_root == NULL)
		sysfs_root = VTD_DMAR_DEFAULT_SYSFS;
	ret = resolve_path(sysfs_root, segment, scope, out);
	if (ret)
		return ret;
	if (scope->type == VTD_DMAR_SCOPE_PCI_SUBHIERARCHY &&
	    (bus_lo != NULL || bus_hi != NULL)) {
		uint8_t sec, sub;

		ret = read_bridge_buses(sysfs_root, segment, out->bus,
					out->device, out->function, &sec, &sub);
		if (ret)
			return ret;
		if (bus_lo)
			*bus_lo = sec;
		if (bus_hi)
			*bus_hi = sub;
	}
	return 0;
}

static bool same_bdf(const struct vtd_dmar_bdf *a, const struct vtd_dmar_bdf *b)
{
	return a->segment == b->segment && a->bus == b->bus &&
	       a->device == b->device && a->function == b->function;
}

/*
 * Does scope s (of a structure on segment seg) name dev? 1 with *how set,
 * 0, or a negative errno. Devices absent from sysfs and hops that are not
 * bridges make the scope name nothing (-ENOENT/-ENODEV become 0): firmware
 * lists hot-plug slots and devices this OS does not see.
 */
static int scope_matches(const char *root, uint16_t seg,
			 const struct vtd_dmar_scope *s,
			 const struct vtd_dmar_bdf *dev,
			 enum vtd_dmar_match *how)
{
	struct vtd_dmar_bdf target;
	uint8_t sec, sub;
	int ret;

	if (seg != dev->segment || !is_pci_scope(s->type))
		return 0;
	/* A one-hop endpoint scope names a device on start_bus: no I/O. */
	if (s->type == VTD_DMAR_SCOPE_PCI_ENDPOINT && s->path_len == 1 &&
	    (s->start_bus != dev->bus || s->path[0].device != dev->device ||
	     s->path[0].function != dev->function))
		return 0;
	ret = resolve_path(root, seg, s, &target);
	if (ret == -ENOENT || ret == -ENODEV)
		return 0;
	if (ret)
		return ret;
	if (same_bdf(&target, dev)) {
		*how = s->type == VTD_DMAR_SCOPE_PCI_ENDPOINT ?
		       VTD_DMAR_MATCH_ENDPOINT : VTD_DMAR_MATCH_BRIDGE;
		return 1;
	}
	if (s->type != VTD_DMAR_SCOPE_PCI_SUBHIERARCHY)
		return 0;
	ret = read_bridge_buses(root, seg, target.bus, target.device,
				target.function, &sec, &sub);
	if (ret == -ENOENT || ret == -ENODEV)
		return 0;
	if (ret)
		return ret;
	if (dev->bus >= sec && dev->bus <= sub) {
		*how = VTD_DMAR_MATCH_BRIDGE;
		return 1;
	}
	return 0;
}

/* First scope of the list that names dev: 1, 0, or a negative errno. An
 * error on one scope does not hide a match on a later one. */
static int scopes_match(const char *root, uint16_t seg,
			const struct vtd_dmar_scope *scopes, unsigned n,
			const struct vtd_dmar_bdf *dev,
			enum vtd_dmar_match *how)
{
	int first_err = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		int ret = scope_matches(root, seg, &scopes[i], dev, how);

		if (ret > 0)
			return 1;
		if (ret < 0 && first_err == 0)
			first_err = ret;
	}
	return first_err;
}

static bool bdf_valid(const struct vtd_dmar_bdf *dev)
{
	return dev->device <= 31 && dev->function <= 7;
}

int vtd_dmar_find_unit(const struct vtd_dmar *dmar, const char *sysfs_root,
		       const struct vtd_dmar_bdf *dev,
		       enum vtd_dmar_match *how)
{
	enum vtd_dmar_match m = VTD_DMAR_MATCH_NONE;
	int include_all = -1, first_err = 0;
	unsigned i;

	if (how)
		*how = VTD_DMAR_MATCH_NONE;
	if (dmar == NULL || dev == NULL || !bdf_valid(dev))
		return -EINVAL;
	if (sysfs_root == NULL)
		sysfs_root = VTD_DMAR_DEFAULT_SYSFS;
	for (i = 0; i < dmar->ndrhd; i++) {
		const struct vtd_dmar_drhd *d = &dmar->drhd[i];
		int ret;

		if (d->segment != dev->segment)
			continue;
		/* §8.3: the INCLUDE_PCI_ALL unit of a segment takes what no
		 * other unit claims (firmware lists it last; the first one
		 * counts if there are several). Its own scopes list only
		 * IOAPICs and HPETs, but an explicit PCI scope still wins. */
		if ((d->flags & VTD_DMAR_DRHD_F_INCLUDE_PCI_ALL) &&
		    include_all < 0)
			include_all = (int)i;
		ret = scopes_match(sysfs_root, d->segment, d->scopes,
				   d->nscopes, dev, &m);
		if (ret > 0) {
			if (how)
				*how = m;
			return (int)i;
		}
		if (ret < 0 && first_err == 0)
			first_err = ret;
	}
	/* A scope we could not read might have claimed the device: saying
	 * "the catch-all unit" could then be wrong, so report the error. */
	if (first_err)
		return first_err;
	if (include_all >= 0) {
		if (how)
			*how = VTD_DMAR_MATCH_INCLUDE_ALL;
		return include_all;
	}
	return -ENOENT;
}

int vtd_dmar_rmrr_for_device(const struct vtd_dmar *dmar,
			     const char *sysfs_root,
			     const struct vtd_dmar_bdf *dev,
			     struct vtd_dmar_range *ranges, unsigned max)
{
	unsigned i, n = 0;

	if (dmar == NULL || dev == NULL || !bdf_valid(dev) ||
	    (ranges == NULL && max > 0))
		return -EINVAL;
	if (sysfs_root == NULL)
		sysfs_root = VTD_DMAR_DEFAULT_SYSFS;
	for (i = 0; i < dmar->nrmrr; i++) {
		const struct vtd_dmar_rmrr *r = &dmar->rmrr[i];
		enum vtd_dmar_match m;
		int ret;

		if (r->segment != dev->segment)
			continue;
		ret = scopes_match(sysfs_root, r->segment, r->scopes,
				   r->nscopes, dev, &m);
		if (ret < 0)
			return ret; /* a missed RMRR breaks firmware DMA */
		if (ret == 0)
			continue;
		if (n < max) {
			ranges[n].base = r->base;
			ranges[n].limit = r->limit;
			ranges[n].rmrr = i;
		}
		n++;
	}
	return n > INT_MAX ? INT_MAX : (int)n;
}

int vtd_dmar_ats_allowed(const struct vtd_dmar *dmar, const char *sysfs_root,
			 const struct vtd_dmar_bdf *dev, bool *atc_required)
{
	enum vtd_dmar_match m;
	unsigned i;
	int ret;

	if (atc_required)
		*atc_required = false;
	if (dmar == NULL || dev == NULL || !bdf_valid(dev))
		return -EINVAL;
	if (sysfs_root == NULL)
		sysfs_root = VTD_DMAR_DEFAULT_SYSFS;
	/* §8.8: integrated devices listed in a SATC have an ATC that the
	 * platform supports; ATC_REQUIRED says it must be enabled. */
	for (i = 0; i < dmar->nsatc; i++) {
		const struct vtd_dmar_satc *s = &dmar->satc[i];

		if (s->segment != dev->segment)
			continue;
		ret = scopes_match(sysfs_root, s->segment, s->scopes,
				   s->nscopes, dev, &m);
		if (ret < 0)
			return ret;
		if (ret > 0) {
			if (atc_required)
				*atc_required = (s->flags &
					VTD_DMAR_SATC_F_ATC_REQUIRED) != 0;
			return 1;
		}
	}
	/* §8.5: a segment without an ATSR has no root port that supports
	 * ATS; with ALL_PORTS every root port of the segment does; else only
	 * the listed root ports, i.e. devices in their sub-hierarchies. */
	for (i = 0; i < dmar->natsr; i++) {
		const struct vtd_dmar_atsr *a = &dmar->atsr[i];

		if (a->segment != dev->segment)
			continue;
		if (a->flags & VTD_DMAR_ATSR_F_ALL_PORTS)
			return 1;
		ret = scopes_match(sysfs_root, a->segment, a->scopes,
				   a->nscopes, dev, &m);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Summary
 */

static const char *andd_name(const struct vtd_dmar *dmar, uint8_t number)
{
	unsigned i;

	for (i = 0; i < dmar->nandd; i++)
		if (dmar->andd[i].device_number == number)
			return dmar->andd[i].name;
	return NULL;
}

static void print_scopes(FILE *f, const struct vtd_dmar *dmar, uint16_t seg,
			 const struct vtd_dmar_scope *scopes, unsigned n)
{
	unsigned i, h;

	for (i = 0; i < n; i++) {
		const struct vtd_dmar_scope *s = &scopes[i];

		fprintf(f, "    scope at 0x%" PRIx32 ": %s",
			s->offset, vtd_dmar_scope_type_name(s->type));
		if (s->type == 0 || s->type > VTD_DMAR_SCOPE_ACPI_NAMESPACE)
			fprintf(f, " (type %u)", s->type);
		if (!is_pci_scope(s->type))
			fprintf(f, " id %u", s->enumeration_id);
		if (s->type == VTD_DMAR_SCOPE_ACPI_NAMESPACE) {
			const char *name = andd_name(dmar, s->enumeration_id);

			fprintf(f, " \"%s\"", name ? name : "(no ANDD)");
		}
		if (!is_pci_scope(s->type))
			fputs(" at", f);
		/* One hop names a device directly; longer paths go through
		 * bridges whose buses only the live topology knows. */
		if (s->path_len == 1)
			fprintf(f, " %04x:%02x:%02x.%x", seg, s->start_bus,
				s->path[0].device, s->path[0].function);
		else {
			fprintf(f, " %04x:%02x path", seg, s->start_bus);
			for (h = 0; h < s->path_len; h++)
				fprintf(f, "%c%02x.%x", h ? '/' : ' ',
					s->path[h].device, s->path[h].function);
		}
		if (s->flags)
			fprintf(f, ", flags 0x%02x", s->flags);
		fputc('\n', f);
	}
}

static void print_size(FILE *f, uint64_t bytes)
{
	if (bytes >= (UINT64_C(1) << 20) && bytes % (UINT64_C(1) << 20) == 0)
		fprintf(f, "%" PRIu64 " MiB", bytes >> 20);
	else if (bytes >= 1024 && bytes % 1024 == 0)
		fprintf(f, "%" PRIu64 " KiB", bytes >> 10);
	else
		fprintf(f, "%" PRIu64 " bytes", bytes);
}

int vtd_dmar_print(const struct vtd_dmar *dmar, FILE *f)
{
	unsigned i;

	if (dmar == NULL || f == NULL)
		return -EINVAL;
	fprintf(f, "DMAR: %" PRIu32 " bytes, revision %u, OEM \"%s\" \"%s\" "
		"revision 0x%" PRIx32 ", creator \"%s\" revision 0x%" PRIx32
		"\n", dmar->length, dmar->revision, dmar->oem_id,
		dmar->oem_table_id, dmar->oem_revision, dmar->creator_id,
		dmar->creator_revision);
	fprintf(f, "  host address width %u bits, flags 0x%02x%s%s%s\n",
		dmar->haw, dmar->flags,
		dmar->flags & VTD_DMAR_F_INTR_REMAP ? " INTR_REMAP" : "",
		dmar->flags & VTD_DMAR_F_X2APIC_OPT_OUT ?
			" X2APIC_OPT_OUT" : "",
		dmar->flags & VTD_DMAR_F_DMA_CTRL_PLATFORM_OPT_IN ?
			" DMA_CTRL_PLATFORM_OPT_IN" : "");
	for (i = 0; i < dmar->ndrhd; i++) {
		const struct vtd_dmar_drhd *d = &dmar->drhd[i];

		fprintf(f, "  DRHD %u at 0x%" PRIx32 ": base 0x%" PRIx64
			", size ", i, d->offset, d->base);
		print_size(f, d->reg_size);
		fprintf(f, ", segment %u, flags 0x%02x%s", d->segment,
			d->flags,
			d->flags & VTD_DMAR_DRHD_F_INCLUDE_PCI_ALL ?
				" INCLUDE_PCI_ALL" : "");
		if (d->has_proximity)
			fprintf(f, ", proximity domain %" PRIu32,
				d->proximity_domain);
		fputc('\n', f);
		print_scopes(f, dmar, d->segment, d->scopes, d->nscopes);
	}
	for (i = 0; i < dmar->nrmrr; i++) {
		const struct vtd_dmar_rmrr *r = &dmar->rmrr[i];

		fprintf(f, "  RMRR %u at 0x%" PRIx32 ": segment %u, [0x%"
			PRIx64 ", 0x%" PRIx64 "]%s\n", i, r->offset,
			r->segment, r->base, r->limit,
			(r->base & 0xfff) || (r->limit & 0xfff) != 0xfff ?
				" (not 4 KiB aligned)" : "");
		print_scopes(f, dmar, r->segment, r->scopes, r->nscopes);
	}
	for (i = 0; i < dmar->natsr; i++) {
		const struct vtd_dmar_atsr *a = &dmar->atsr[i];

		fprintf(f, "  ATSR %u at 0x%" PRIx32 ": segment %u, flags "
			"0x%02x%s\n", i, a->offset, a->segment, a->flags,
			a->flags & VTD_DMAR_ATSR_F_ALL_PORTS ?
				" ALL_PORTS" : "");
		print_scopes(f, dmar, a->segment, a->scopes, a->nscopes);
	}
	for (i = 0; i < dmar->nrhsa; i++) {
		const struct vtd_dmar_rhsa *r = &dmar->rhsa[i];

		fprintf(f, "  RHSA %u at 0x%" PRIx32 ": base 0x%" PRIx64
			", proximity domain %" PRIu32, i, r->offset, r->base,
			r->proximity_domain);
		if (r->drhd >= 0)
			fprintf(f, " (DRHD %d)\n", r->drhd);
		else
			fprintf(f, " (no DRHD at that base)\n");
	}
	for (i = 0; i < dmar->nandd; i++)
		fprintf(f, "  ANDD %u at 0x%" PRIx32 ": device %u \"%s\"\n", i,
			dmar->andd[i].offset, dmar->andd[i].device_number,
			dmar->andd[i].name);
	for (i = 0; i < dmar->nsatc; i++) {
		const struct vtd_dmar_satc *s = &dmar->satc[i];

		fprintf(f, "  SATC %u at 0x%" PRIx32 ": segment %u, flags "
			"0x%02x%s\n", i, s->offset, s->segment, s->flags,
			s->flags & VTD_DMAR_SATC_F_ATC_REQUIRED ?
				" ATC_REQUIRED" : "");
		print_scopes(f, dmar, s->segment, s->scopes, s->nscopes);
	}
	if (dmar->nunknown)
		fprintf(f, "  %u structure(s) of reserved type skipped\n",
			dmar->nunknown);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}
