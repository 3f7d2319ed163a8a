/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests of the ACPI DMAR parser (drivers/iommu/vtd/vtd_dmar.h).
 *
 * Usage: test_dmar [QEMU.aml [SERVER.aml]]
 *   The two binary tables are compiled by iasl from the .asl files in
 *   test/unit/dmar (meson passes their paths). Without them the cases that
 *   need them skip; everything else runs on tables built here in C.
 *
 * The PCI topology that bridge and multi-hop scopes need is a fake sysfs
 * tree in a temporary directory: bus/pci/devices/SSSS:BB:DD.F/config files
 * of 64 bytes holding a header type and secondary/subordinate bus numbers.
 * Nothing here reads the real /sys.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uvtd_test.h"
#include "vtd_dmar.h"

static const char *qemu_path;	/* argv[1] */
static const char *server_path; /* argv[2] */
/* Everything this program creates lives below tmp_root. Roots of fake
 * sysfs trees are ROOT_MAX long, so that paths built below them always fit
 * in PATH_MAX. */
#define ROOT_MAX 1024
static char tmp_root[ROOT_MAX / 2];

/* ------------------------------------------------------------------------
 * Helpers: files, fake sysfs
 */

static uint8_t *load_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A fresh, empty directory under tmp_root. */
static int make_dir(char *out, size_t outlen, const char *name)
{
	snprintf(out, outlen, "%s/%s", tmp_root, name);
	return mkdir_p(out);
}

static void device_dir(char *out, size_t outlen, const char *root,
		       unsigned seg, unsigned bus, unsigned dev, unsigned fn)
{
	snprintf(out, outlen, "%s/bus/pci/devices/%04x:%02x:%02x.%x", root,
		 seg, bus, dev, fn);
}

/* Write a config file of cfg_len bytes (64 is what sysfs shows a non-root
 * reader): header type, and for a bridge its primary, secondary and
 * subordinate bus numbers. */
static int fake_device(const char *root, unsigned seg, unsigned bus,
		       unsigned dev, unsigned fn, uint8_t header_type,
		       uint8_t sec, uint8_t sub, size_t cfg_len)
{
	uint8_t cfg[64] = {0};
	char dir[PATH_MAX], path[PATH_MAX + 16];
	FILE *f;
	int ret;

	device_dir(dir, sizeof(dir), root, seg, bus, dev, fn);
	ret = mkdir_p(dir);
	if (ret)
		return ret;
	cfg[0x00] = 0x86; /* vendor 8086 */
	cfg[0x01] = 0x80;
	cfg[0x0e] = header_type;
	cfg[0x18] = (uint8_t)bus;
	cfg[0x19] = sec;
	cfg[0x1a] = sub;
	snprintf(path, sizeof(path), "%s/config", dir);
	f = fopen(path, "wb");
	if (f == NULL)
		return -errno;
	if (fwrite(cfg, 1, cfg_len, f) != cfg_len) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) == 0 ? 0 : -EIO;
}

static int fake_bridge(const char *root, unsigned seg, unsigned bus,
		       unsigned dev, unsigned fn, uint8_t sec, uint8_t sub)
{
	return fake_device(root, seg, bus, dev, fn, 0x01, sec, sub, 64);
}

/* The topology server.asl describes (see its header comment). */
static int make_server_sysfs(char *root, size_t rootlen, const char *name)
{
	int ret = make_dir(root, rootlen, name);

	ret = ret ? ret : fake_bridge(root, 0, 0x00, 0x03, 0, 0x10, 0x1f);
	ret = ret ? ret : fake_bridge(root, 0, 0x00, 0x1c, 0, 0x20, 0x20);
	ret = ret ? ret : fake_bridge(root, 1, 0x80, 0x02, 0, 0x81, 0x85);
	ret = ret ? ret : fake_bridge(root, 1, 0x81, 0x00, 0, 0x82, 0x85);
	/* Ordinary endpoints: never read (only bridges are), but present. */
	ret = ret ? ret : fake_device(root, 0, 0x20, 0x00, 0, 0, 0, 0, 64);
	ret = ret ? ret : fake_device(root, 1, 0x83, 0x00, 0, 0, 0, 0, 64);
	return ret;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct vtd_dmar_bdf bdf(unsigned seg, unsigned bus, unsigned dev,
			       unsigned fn)
{
	struct vtd_dmar_bdf b = {
		.segment = (uint16_t)seg, .bus = (uint8_t)bus,
		.device = (uint8_t)dev, .function = (uint8_t)fn,
	};
	return b;
}

/* "1c.0/00.0" for a scope's path. */
static const char *path_str(const struct vtd_dmar_scope *s, char *buf,
			    size_t len)
{
	size_t n = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < s->path_len && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%02x.%x",
				      i ? "/" : "", s->path[i].device,
				      s->path[i].function);
	return buf;
}

/* REQUIRE evaluates its condition twice (once to check, once to leave):
 * conditions with side effects go through MUST, which evaluates once. */
#define MUST(cond, ...)                                                         \
	do {                                                                    \
		const int must_ok_ = !!(cond);                                  \
		REQUIRE(must_ok_, __VA_ARGS__);                                 \
	} while (0)

#define CHECK_SCOPE(s, off, type_, flags_, id, bus, path)                       \
	do {                                                                    \
		char pbuf_[64];                                                 \
		CHECK_EQ((s)->offset, off);                                     \
		CHECK_EQ((s)->type, type_);                                     \
		CHECK_EQ((s)->flags, flags_);                                   \
		CHECK_EQ((s)->enumeration_id, id);                              \
		CHECK_EQ((s)->start_bus, bus);                                  \
		CHECK_EQ((s)->length, 6 + 2 * (s)->path_len);                   \
		CHECK(strcmp(path_str((s), pbuf_, sizeof(pbuf_)), path) == 0,   \
		      "scope at 0x%x has path %s, expected %s",                 \
		      (unsigned)(off), pbuf_, path);                            \
	} while (0)

/* ------------------------------------------------------------------------
 * Tables built in C: a byte writer with struct/scope helpers, so that the
 * malformed-table tests do not depend on iasl.
 */

struct tb {
	uint8_t b[1024];
	size_t n;
};

static void put8(struct tb *t, unsigned v)
{
	t->b[t->n++] = (uint8_t)v;
}

static void put16(struct tb *t, unsigned v)
{
	put8(t, v & 0xff);
	put8(t, v >> 8);
}

static void put32(struct tb *t, uint32_t v)
{
	put16(t, v & 0xffff);
	put16(t, v >> 16);
}

static void put64(struct tb *t, uint64_t v)
{
	put32(t, (uint32_t)v);
	put32(t, (uint32_t)(v >> 32));
}

static void putstr(struct tb *t, const char *s, size_t n)
{
	memcpy(t->b + t->n, s, n);
	t->n += n;
}

static void tb_header(struct tb *t, uint8_t haw_minus_1, uint8_t flags)
{
	memset(t, 0, sizeof(*t));
	putstr(t, "DMAR", 4);
	put32(t, 0); /* length, set by tb_finish */
	put8(t, 1);  /* revision */
	put8(t, 0);  /* checksum, set by tb_finish */
	putstr(t, "UVTD  ", 6);
	putstr(t, "CBUILT  ", 8);
	put32(t, 1);
	putstr(t, "UVTD", 4);
	put32(t, 1);
	put8(t, haw_minus_1);
	put8(t, flags);
	t->n += 10;
}

static size_t tb_begin(struct tb *t, unsigned type)
{
	size_t start = t->n;

	put16(t, type);
	put16(t, 0);
	return start;
}

static void tb_end(struct tb *t, size_t start)
{
	t->b[start + 2] = (uint8_t)(t->n - start);
	t->b[start + 3] = (uint8_t)((t->n - start) >> 8);
}

/* A scope with hops given as devfn pairs: nhops, d0, f0, d1, f1, ... */
static void tb_scope(struct tb *t, unsigned type, unsigned id, unsigned bus,
		     unsigned nhops, const uint8_t *hops)
{
	unsigned i;

	put8(t, type);
	put8(t, 6 + 2 * nhops);
	put8(t, 0);
	put8(t, 0);
	put8(t, id);
	put8(t, bus);
	for (i = 0; i < 2 * nhops; i++)
		put8(t, hops[i]);
}

static void fix_checksum(uint8_t *b, size_t len)
{
	uint8_t sum = 0;
	size_t i;

	b[9] = 0;
	for (i = 0; i < len; i++)
		sum = (uint8_t)(sum + b[i]);
	b[9] = (uint8_t)(0x100 - sum);
}

static void set_len(uint8_t *b, uint32_t len)
{
	b[4] = (uint8_t)len;
	b[5] = (uint8_t)(len >> 8);
	b[6] = (uint8_t)(len >> 16);
	b[7] = (uint8_t)(len >> 24);
}

static void tb_finish(struct tb *t)
{
	set_len(t->b, (uint32_t)t->n);
	fix_checksum(t->b, t->n);
}

/* Byte offsets of the C-built table's parts, for the corruption tests. */
enum {
	CT_DRHD0 = 48,		/* DRHD, length 16 + 8 + 10 */
	CT_DRHD0_SCOPE0 = 64,	/* endpoint 00:02.0 */
	CT_DRHD0_SCOPE1 = 72,	/* bridge, 2 hops */
	CT_DRHD1 = 82,		/* DRHD INCLUDE_PCI_ALL, 16 + 8 + 8 */
	CT_RMRR = 114,		/* 24 + 8 */
	CT_ATSR = 146,		/* 8 + 8 */
	CT_RHSA = 162,		/* 20 */
	CT_ANDD = 182,		/* 8 + 10 */
	CT_SATC = 200,		/* 8 + 8 */
	CT_UNKNOWN = 216,	/* type 9, 6 bytes */
	CT_END = 222,
};

/* A compact table with one structure of every type, plus a reserved one. */
static void build_ctable(struct tb *t)
{
	static const uint8_t h_02[] = {0x02, 0};
	static const uint8_t h_1c_00[] = {0x1c, 0, 0x00, 0};
	static const uint8_t h_1f[] = {0x1f, 0};
	static const uint8_t h_15[] = {0x15, 0};
	static const uint8_t h_14[] = {0x14, 0};
	static const uint8_t h_1c[] = {0x1c, 0};
	size_t s;

	tb_header(t, 38, VTD_DMAR_F_INTR_REMAP);
	s = tb_begin(t, VTD_DMAR_TYPE_DRHD);
	put8(t, 0);
	put8(t, 2); /* 4 pages */
	put16(t, 0);
	put64(t, 0xfeb00000);
	tb_scope(t, VTD_DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 1, h_02);
	tb_scope(t, VTD_DMAR_SCOPE_PCI_SUBHIERARCHY, 0, 0, 2, h_1c_00);
	tb_end(t, s);
	s = tb_begin(t, VTD_DMAR_TYPE_DRHD);
	put8(t, VTD_DMAR_DRHD_F_INCLUDE_PCI_ALL);
	put8(t, 0);
	put16(t, 0);
	put64(t, 0xfed90000);
	tb_scope(t, VTD_DMAR_SCOPE_IOAPIC, 2, 0xf0, 1, h_1f);
	tb_scope(t, VTD_DMAR_SCOPE_ACPI_NAMESPACE, 1, 0, 1, h_15);
	tb_end(t, s);
	s = tb_begin(t, VTD_DMAR_TYPE_RMRR);
	put16(t, 0);
	put16(t, 0);
	put64(t, 0x3e000000);
	put64(t, 0x3e0fffff);
	tb_scope(t, VTD_DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 1, h_14);
	tb_end(t, s);
	s = tb_begin(t, VTD_DMAR_TYPE_ATSR);
	put8(t, 0);
	put8(t, 0);
	put16(t, 0);
	tb_scope(t, VTD_DMAR_SCOPE_PCI_SUBHIERARCHY, 0, 0, 1, h_1c);
	tb_end(t, s);
	s = tb_begin(t, VTD_DMAR_TYPE_RHSA);
	put32(t, 0);
	put64(t, 0xfeb00000);
	put32(t, 3);
	tb_end(t, s);
	s = tb_begin(t, VTD_DMAR_TYPE_ANDD);
	put8(t, 0);
	put8(t, 0);
	put8(t, 0);
	put8(t, 1);
	putstr(t, "\\_SB.I2C0", 10); /* with its NUL */
	tb_end(t, s);
	s = tb_begin(t, VTD_DMAR_TYPE_SATC);
	put8(t, 0);
	put8(t, 0);
	put16(t, 0);
	tb_scope(t, VTD_DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 1, h_02);
	tb_end(t, s);
	s = tb_begin(t, 9); /* reserved type */
	put16(t, 0xabcd);
	tb_end(t, s);
	tb_finish(t);
}

/* Structure boundaries of a valid table, by stepping its lengths. */
static size_t boundaries(const uint8_t *b, size_t len, size_t *out,
			 size_t max)
{
	size_t off = VTD_DMAR_HEADER_LEN, n = 0;

	out[n++] = off;
	while (off + 4 <= len && n < max) {
		off += (size_t)(b[off + 2] | b[off + 3] << 8);
		out[n++] = off;
	}
	return n;
}

/* Parse, expecting failure with -EINVAL and a message naming the offset. */
static void expect_bad(const uint8_t *b, size_t len, uint32_t offset,
		       const char *what, int line)
{
	struct vtd_dmar *d = (struct vtd_dmar *)(uintptr_t)1;
	char err[256] = "", want[64];
	int ret = vtd_dmar_parse(b, len, &d, err, sizeof(err));

	snprintf(want, sizeof(want), "at byte offset %u (0x%x)", offset,
		 offset);
	CHECK(ret == -EINVAL, "line %d: %s: parse returned %d, expected "
	      "-EINVAL", line, what, ret);
	CHECK(d == NULL, "line %d: %s: *out not NULL on failure", line, what);
	CHECK(strstr(err, want) != NULL, "line %d: %s: message \"%s\" does "
	      "not say \"%s\"", line, what, err, want);
	if (d != (struct vtd_dmar *)(uintptr_t)1)
		vtd_dmar_free(d);
}
#define EXPECT_BAD(b, len, off, what) expect_bad(b, len, off, what, __LINE__)

/* ------------------------------------------------------------------------
 * The QEMU-like table
 */

static void test_qemu_table(void)
{
	struct vtd_dmar *d = NULL;
	struct vtd_dmar_range r[2];
	enum vtd_dmar_match how;
	struct vtd_dmar_bdf dev;
	char err[256] = "", root[ROOT_MAX];
	const struct vtd_dmar_drhd *u;
	bool atc = true;
	int ret;

	if (qemu_path == NULL)
		SKIP_TEST("no compiled qemu table (iasl missing?)");
	ret = vtd_dmar_parse_file(qemu_path, &d, err, sizeof(err));
	REQUIRE(ret == 0 && d != NULL, "parse %s: %d %s", qemu_path, ret, err);

	CHECK_EQ(d->length, 72);
	CHECK_EQ(d->revision, 1);
	CHECK(strcmp(d->oem_id, "BOCHS ") == 0, "oem_id \"%s\"", d->oem_id);
	CHECK(strcmp(d->oem_table_id, "BXPC    ") == 0, "oem_table_id \"%s\"",
	      d->oem_table_id);
	CHECK_EQ(d->oem_revision, 1);
	CHECK(strcmp(d->creator_id, "BXPC") == 0, "creator \"%s\"",
	      d->creator_id);
	CHECK_EQ(d->creator_revision, 1);
	CHECK_EQ(d->haw, 39);
	CHECK_EQ(d->flags, VTD_DMAR_F_INTR_REMAP);
	CHECK_EQ(d->ndrhd, 1);
	CHECK_EQ(d->nrmrr, 0);
	CHECK_EQ(d->natsr, 0);
	CHECK_EQ(d->nrhsa, 0);
	CHECK_EQ(d->nandd, 0);
	CHECK_EQ(d->nsatc, 0);
	CHECK_EQ(d->nunknown, 0);
	CHECK_EQ(d->nscopes, 1);
	REQUIRE(d->ndrhd == 1, "no unit");
	u = &d->drhd[0];
	CHECK_EQ(u->offset, 0x30);
	CHECK_EQ(u->flags, VTD_DMAR_DRHD_F_INCLUDE_PCI_ALL);
	CHECK_EQ(u->size_field, 0);
	CHECK_EQ(u->segment, 0);
	CHECK_EQ(u->base, 0xfed90000);
	CHECK_EQ(u->reg_size, 4096);
	CHECK(!u->has_proximity, "unexpected proximity domain");
	REQUIRE(u->nscopes == 1, "nscopes %u", u->nscopes);
	CHECK_SCOPE(&u->scopes[0], 0x40, VTD_DMAR_SCOPE_IOAPIC, 0, 0, 0xff,
		    "00.0");

	/* Queries: no PCI scope, so nothing is read from sysfs. */
	MUST(make_dir(root, sizeof(root), "sysfs-qemu") == 0, "mkdir");
	dev = bdf(0, 0, 4, 0);
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), 0);
	CHECK_EQ(how, VTD_DMAR_MATCH_INCLUDE_ALL);
	dev = bdf(0, 0xff, 31, 7);
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, NULL), 0);
	dev = bdf(1, 0, 4, 0);
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), -ENOENT);
	CHECK_EQ(how, VTD_DMAR_MATCH_NONE);
	dev = bdf(0, 0, 4, 0);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 2), 0);
	CHECK_EQ(vtd_dmar_ats_allowed(d, root, &dev, &atc), 0);
	CHECK(!atc, "atc_required set");
	vtd_dmar_free(d);
}

/* ------------------------------------------------------------------------
 * The server table: every field
 */

static struct vtd_dmar *parse_server(void)
{
	struct vtd_dmar *d = NULL;
	char err[256] = "";
	int ret = vtd_dmar_parse_file(server_path, &d, err, sizeof(err));

	CHECK(ret == 0 && d != NULL, "parse %s: %d %s", server_path, ret, err);
	return d;
}

static void test_server_fields(void)
{
	const struct vtd_dmar_drhd *u;
	const struct vtd_dmar_rmrr *r;
	struct vtd_dmar *d;

	if (server_path == NULL)
		SKIP_TEST("no compiled server table (iasl missing?)");
	d = parse_server();
	REQUIRE(d != NULL, "no table");

	CHECK_EQ(d->length, 443);
	CHECK_EQ(d->revision, 1);
	CHECK(strcmp(d->oem_id, "UVTD  ") == 0, "oem_id \"%s\"", d->oem_id);
	CHECK(strcmp(d->oem_table_id, "SERVER  ") == 0, "table id \"%s\"",
	      d->oem_table_id);
	CHECK_EQ(d->oem_revision, 2);
	CHECK(strcmp(d->creator_id, "UVTD") == 0, "creator \"%s\"",
	      d->creator_id);
	CHECK_EQ(d->creator_revision, 3);
	CHECK_EQ(d->haw, 46);
	CHECK_EQ(d->flags, VTD_DMAR_F_INTR_REMAP |
			   VTD_DMAR_F_DMA_CTRL_PLATFORM_OPT_IN);
	CHECK_EQ(d->ndrhd, 4);
	CHECK_EQ(d->nrmrr, 4);
	CHECK_EQ(d->natsr, 2);
	CHECK_EQ(d->nrhsa, 3);
	CHECK_EQ(d->nandd, 1);
	CHECK_EQ(d->nsatc, 1);
	CHECK_EQ(d->nunknown, 1);
	CHECK_EQ(d->nscopes, 14);
	REQUIRE(d->ndrhd == 4 && d->nrmrr == 4 && d->natsr == 2 &&
		d->nrhsa == 3 && d->nandd == 1 && d->nsatc == 1,
		"structure counts");

	u = &d->drhd[0];
	CHECK_EQ(u->offset, 0x30);
	CHECK_EQ(u->flags, 0);
	CHECK_EQ(u->size_field, 1);
	CHECK_EQ(u->reg_size, 8192);
	CHECK_EQ(u->segment, 0);
	CHECK_EQ(u->base, 0xfbffc000);
	CHECK(u->has_proximity, "DRHD 0 has no proximity domain");
	CHECK_EQ(u->proximity_domain, 0);
	REQUIRE(u->nscopes == 3, "DRHD 0 nscopes %u", u->nscopes);
	CHECK_SCOPE(&u->scopes[0], 0x40, VTD_DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 0,
		    "02.0");
	CHECK_SCOPE(&u->scopes[1], 0x48, VTD_DMAR_SCOPE_PCI_SUBHIERARCHY, 1, 0,
		    0, "03.0");
	CHECK_SCOPE(&u->scopes[2], 0x50, VTD_DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 0,
		    "1c.0/00.0");

	u = &d->drhd[1];
	CHECK_EQ(u->offset, 0x5a);
	CHECK_EQ(u->flags, VTD_DMAR_DRHD_F_INCLUDE_PCI_ALL);
	CHECK_EQ(u->size_field, 0);
	CHECK_EQ(u->reg_size, 4096);
	CHECK_EQ(u->segment, 0);
	CHECK_EQ(u->base, 0xfed90000);
	CHECK(!u->has_proximity, "DRHD 1 has a proximity domain");
	REQUIRE(u->nscopes == 3, "DRHD 1 nscopes %u", u->nscopes);
	CHECK_SCOPE(&u->scopes[0], 0x6a, VTD_DMAR_SCOPE_IOAPIC, 0, 8, 0xf0,
		    "1f.0");
	CHECK_SCOPE(&u->scopes[1], 0x72, VTD_DMAR_SCOPE_HPET, 0, 0, 0, "1e.6");
	CHECK_SCOPE(&u->scopes[2], 0x7a, VTD_DMAR_SCOPE_ACPI_NAMESPACE, 0, 1, 0,
		    "15.0");

	u = &d->drhd[2];
	CHECK_EQ(u->offset, 0x82);
	CHECK_EQ(u->flags, 0);
	CHECK_EQ(u->size_field, 3);
	CHECK_EQ(u->reg_size, 32768);
	CHECK_EQ(u->segment, 1);
	CHECK_EQ(u->base, UINT64_C(0x3fffe000000));
	CHECK(u->has_proximity, "DRHD 2 has no proximity domain");
	CHECK_EQ(u->proximity_domain, 1);
	REQUIRE(u->nscopes == 1, "DRHD 2 nscopes %u", u->nscopes);
	CHECK_SCOPE(&u->scopes[0], 0x92, VTD_DMAR_SCOPE_PCI_SUBHIERARCHY, 0, 0,
		    0x80, "02.0/00.0");

	u = &d->drhd[3];
	CHECK_EQ(u->offset, 0x9c);
	CHECK_EQ(u->flags, VTD_DMAR_DRHD_F_INCLUDE_PCI_ALL);
	CHECK_EQ(u->size_field, 0);
	CHECK_EQ(u->reg_size, 4096);
	CHECK_EQ(u->segment, 1);
	CHECK_EQ(u->base, UINT64_C(0x3fffe010000));
	CHECK(!u->has_proximity, "DRHD 3 has a proximity domain");
	CHECK_EQ(u->nscopes, 0);

	r = &d->rmrr[0];
	CHECK_EQ(r->offset, 0xac);
	CHECK_EQ(r->segment, 0);
	CHECK_EQ(r->base, 0x3e2e0000);
	CHECK_EQ(r->limit, 0x3e2fffff);
	REQUIRE(r->nscopes == 2, "RMRR 0 nscopes %u", r->nscopes);
	CHECK_SCOPE(&r->scopes[0], 0xc4, VTD_DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 0,
		    "14.0");
	CHECK_SCOPE(&r->scopes[1], 0xcc, VTD_DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 0,
		    "1a.0");
	r = &d->rmrr[1];
	CHECK_EQ(r->offset, 0xd4);
	CHECK_EQ(r->segment, 0);
	CHECK_EQ(r->base, 0x3f000000);
	CHECK_EQ(r->limit, 0x3f7fffff);
	REQUIRE(r->nscopes == 1, "RMRR 1 nscopes %u", r->nscopes);
	CHECK_SCOPE(&r->scopes[0], 0xec, VTD_DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 0,
		    "02.0");
	r = &d->rmrr[2];
	CHECK_EQ(r->offset, 0xf4);
	CHECK_EQ(r->segment, 0);
	CHECK_EQ(r->base, 0x3e400000);
	CHECK_EQ(r->limit, 0x3e400fff);
	REQUIRE(r->nscopes == 1, "RMRR 2 nscopes %u", r->nscopes);
	CHECK_SCOPE(&r->scopes[0], 0x10c, VTD_DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 0,
		    "14.0");
	r = &d->rmrr[3];
	CHECK_EQ(r->offset, 0x114);
	CHECK_EQ(r->segment, 1);
	CHECK_EQ(r->base, 0x7f000000);
	CHECK_EQ(r->limit, 0x7f0fffff);
	REQUIRE(r->nscopes == 1, "RMRR 3 nscopes %u", r->nscopes);
	CHECK_SCOPE(&r->scopes[0], 0x12c, VTD_DMAR_SCOPE_PCI_SUBHIERARCHY, 0, 0,
		    0x80, "02.0");

	CHECK_EQ(d->atsr[0].offset, 0x134);
	CHECK_EQ(d->atsr[0].flags, 0);
	CHECK_EQ(d->atsr[0].segment, 0);
	REQUIRE(d->atsr[0].nscopes == 1, "ATSR 0 nscopes %u",
		d->atsr[0].nscopes);
	CHECK_SCOPE(&d->atsr[0].scopes[0], 0x13c,
		    VTD_DMAR_SCOPE_PCI_SUBHIERARCHY, 0, 0, 0, "03.0");
	CHECK_EQ(d->atsr[1].offset, 0x144);
	CHECK_EQ(d->atsr[1].flags, VTD_DMAR_ATSR_F_ALL_PORTS);
	CHECK_EQ(d->atsr[1].segment, 1);
	CHECK_EQ(d->atsr[1].nscopes, 0);

	CHECK_EQ(d->rhsa[0].offset, 0x14c);
	CHECK_EQ(d->rhsa[0].base, 0xfbffc000);
	CHECK_EQ(d->rhsa[0].proximity_domain, 0);
	CHECK_EQ(d->rhsa[0].drhd, 0);
	CHECK_EQ(d->rhsa[1].offset, 0x160);
	CHECK_EQ(d->rhsa[1].base, UINT64_C(0x3fffe000000));
	CHECK_EQ(d->rhsa[1].proximity_domain, 1);
	CHECK_EQ(d->rhsa[1].drhd, 2);
	CHECK_EQ(d->rhsa[2].offset, 0x174);
	CHECK_EQ(d->rhsa[2].base, 0xdead0000);
	CHECK_EQ(d->rhsa[2].proximity_domain, 7);
	CHECK(d->rhsa[2].drhd == -1, "RHSA 2 names DRHD %d", d->rhsa[2].drhd);

	CHECK_EQ(d->andd[0].offset, 0x188);
	CHECK_EQ(d->andd[0].device_number, 1);
	CHECK(strcmp(d->andd[0].name, "\\_SB.PCI0.UAR1") == 0, "ANDD name "
	      "\"%s\"", d->andd[0].name);

	CHECK_EQ(d->satc[0].offset, 0x19f);
	CHECK_EQ(d->satc[0].flags, VTD_DMAR_SATC_F_ATC_REQUIRED);
	CHECK_EQ(d->satc[0].segment, 0);
	REQUIRE(d->satc[0].nscopes == 1, "SATC nscopes %u", d->satc[0].nscopes);
	CHECK_SCOPE(&d->satc[0].scopes[0], 0x1a7, VTD_DMAR_SCOPE_PCI_ENDPOINT,
		    0, 0, 0, "02.0");
	vtd_dmar_free(d);
}

/* ------------------------------------------------------------------------
 * The server table: queries against a fake sysfs
 */

struct unit_case {
	unsigned seg, bus, dev, fn;
	int unit;			/* expected return */
	int how;			/* enum vtd_dmar_match */
};

static void check_units(const struct vtd_dmar *d, const char *root,
			const struct unit_case *c, size_t n, const char *tree)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct vtd_dmar_bdf dev = bdf(c[i].seg, c[i].bus, c[i].dev,
					      c[i].fn);
		enum vtd_dmar_match how = (enum vtd_dmar_match)99;
		int ret = vtd_dmar_find_unit(d, root, &dev, &how);

		CHECK(ret == c[i].unit && (int)how == c[i].how,
		      "%s: %04x:%02x:%02x.%x -> unit %d how %d, expected "
		      "unit %d how %d", tree, c[i].seg, c[i].bus, c[i].dev,
		      c[i].fn, ret, how, c[i].unit, c[i].how);
	}
}

static void test_server_units(void)
{
	enum { EP = VTD_DMAR_MATCH_ENDPOINT, BR = VTD_DMAR_MATCH_BRIDGE,
	       ALL = VTD_DMAR_MATCH_INCLUDE_ALL, NONE = VTD_DMAR_MATCH_NONE };
	static const struct unit_case with_sysfs[] = {
		{0, 0x00, 0x02, 0, 0, EP},	/* endpoint scope */
		{0, 0x00, 0x03, 0, 0, BR},	/* the bridge itself */
		{0, 0x10, 0x00, 0, 0, BR},	/* first bus below it */
		{0, 0x1f, 0x1f, 7, 0, BR},	/* last bus below it */
		{0, 0x20, 0x00, 0, 0, EP},	/* 2-hop endpoint scope */
		{0, 0x20, 0x00, 1, 1, ALL},	/* its sibling function */
		{0, 0x21, 0x00, 0, 1, ALL},	/* just past 03.0's range */
		{0, 0x00, 0x1c, 0, 1, ALL},	/* a hop, not the target */
		{0, 0x00, 0x14, 0, 1, ALL},
		{0, 0x00, 0x02, 1, 1, ALL},
		{1, 0x81, 0x00, 0, 2, BR},	/* 2-hop bridge scope target */
		{1, 0x82, 0x00, 0, 2, BR},
		{1, 0x83, 0x00, 0, 2, BR},
		{1, 0x85, 0x1f, 7, 2, BR},
		{1, 0x86, 0x00, 0, 3, ALL},
		{1, 0x81, 0x01, 0, 3, ALL},	/* beside the switch port */
		{1, 0x80, 0x02, 0, 3, ALL},	/* the root port (first hop) */
		{2, 0x00, 0x00, 0, -ENOENT, NONE}, /* no unit on segment 2 */
	};
	/* Without topology only one-hop scopes resolve: a bridge scope still
	 * names its bridge, but nothing below it. */
	static const struct unit_case without_sysfs[] = {
		{0, 0x00, 0x02, 0, 0, EP},
		{0, 0x00, 0x03, 0, 0, BR},
		{0, 0x10, 0x00, 0, 1, ALL},
		{0, 0x20, 0x00, 0, 1, ALL},
		{1, 0x81, 0x00, 0, 3, ALL},
		{1, 0x83, 0x00, 0, 3, ALL},
	};
	char root[ROOT_MAX], empty[ROOT_MAX];
	struct vtd_dmar *d;

	if (server_path == NULL)
		SKIP_TEST("no compiled server table (iasl missing?)");
	d = parse_server();
	REQUIRE(d != NULL, "no table");
	MUST(make_server_sysfs(root, sizeof(root), "sysfs-server") == 0,
		"fake sysfs");
	MUST(make_dir(empty, sizeof(empty), "sysfs-empty") == 0, "mkdir");
	check_units(d, root, with_sysfs,
		    sizeof(with_sysfs) / sizeof(with_sysfs[0]), "fake sysfs");
	check_units(d, empty, without_sysfs,
		    sizeof(without_sysfs) / sizeof(without_sysfs[0]),
		    "empty sysfs");
	vtd_dmar_free(d);
}

static void test_server_rmrr(void)
{
	struct vtd_dmar_range r[4];
	struct vtd_dmar_bdf dev;
	char root[ROOT_MAX];
	struct vtd_dmar *d;

	if (server_path == NULL)
		SKIP_TEST("no compiled server table (iasl missing?)");
	d = parse_server();
	REQUIRE(d != NULL, "no table");
	MUST(make_server_sysfs(root, sizeof(root), "sysfs-rmrr") == 0,
		"fake sysfs");

	/* Two RMRRs name 00:14.0: both, in table order. */
	dev = bdf(0, 0, 0x14, 0);
	memset(r, 0xa5, sizeof(r));
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 4), 2);
	CHECK_EQ(r[0].base, 0x3e2e0000);
	CHECK_EQ(r[0].limit, 0x3e2fffff);
	CHECK_EQ(r[0].rmrr, 0);
	CHECK_EQ(r[1].base, 0x3e400000);
	CHECK_EQ(r[1].limit, 0x3e400fff);
	CHECK_EQ(r[1].rmrr, 2);
	/* Room for one: the count is still 2, the second slot untouched. */
	memset(r, 0xa5, sizeof(r));
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 1), 2);
	CHECK_EQ(r[0].rmrr, 0);
	CHECK_EQ(r[1].base, UINT64_C(0xa5a5a5a5a5a5a5a5));
	/* Count only. */
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, NULL, 0), 2);

	dev = bdf(0, 0, 0x1a, 0);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 4), 1);
	CHECK_EQ(r[0].rmrr, 0);
	dev = bdf(0, 0, 0x02, 0);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 4), 1);
	CHECK_EQ(r[0].base, 0x3f000000);
	CHECK_EQ(r[0].limit, 0x3f7fffff);
	CHECK_EQ(r[0].rmrr, 1);
	dev = bdf(0, 0x10, 0, 0);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 4), 0);
	dev = bdf(0, 0, 0x1a, 1);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 4), 0);

	/* Segment 1: a bridge scope (80:02.0, buses 81..85). */
	dev = bdf(1, 0x83, 0, 0);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 4), 1);
	CHECK_EQ(r[0].base, 0x7f000000);
	CHECK_EQ(r[0].limit, 0x7f0fffff);
	CHECK_EQ(r[0].rmrr, 3);
	dev = bdf(1, 0x80, 0x02, 0);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 4), 1);
	dev = bdf(1, 0x86, 0, 0);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 4), 0);
	/* Same bus numbers, other segment: no. */
	dev = bdf(0, 0x83, 0, 0);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 4), 0);
	dev = bdf(2, 0, 0x14, 0);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 4), 0);
	vtd_dmar_free(d);
}

static void test_server_ats(void)
{
	static const struct {
		unsigned seg, bus, dev, fn;
		int allowed;
		bool atc_required;
	} cases[] = {
		{0, 0x00, 0x02, 0, 1, true},	/* SATC, ATC_REQUIRED */
		{0, 0x10, 0x00, 0, 1, false},	/* below ATSR root port 03.0 */
		{0, 0x1f, 0x00, 0, 1, false},
		{0, 0x20, 0x00, 0, 0, false},	/* below 1c.0: not listed */
		{0, 0x00, 0x14, 0, 0, false},
		{1, 0x83, 0x00, 0, 1, false},	/* ALL_PORTS */
		{1, 0x90, 0x00, 0, 1, false},
		{2, 0x00, 0x00, 0, 0, false},	/* no ATSR on segment 2 */
	};
	char root[ROOT_MAX], empty[ROOT_MAX];
	struct vtd_dmar_bdf dev;
	struct vtd_dmar *d;
	size_t i;

	if (server_path == NULL)
		SKIP_TEST("no compiled server table (iasl missing?)");
	d = parse_server();
	REQUIRE(d != NULL, "no table");
	MUST(make_server_sysfs(root, sizeof(root), "sysfs-ats") == 0,
		"fake sysfs");
	MUST(make_dir(empty, sizeof(empty), "sysfs-ats-empty") == 0, "mkdir");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool atc = !cases[i].atc_required;
		int ret;

		dev = bdf(cases[i].seg, cases[i].bus, cases[i].dev,
			  cases[i].fn);
		ret = vtd_dmar_ats_allowed(d, root, &dev, &atc);
		CHECK(ret == cases[i].allowed && atc == cases[i].atc_required,
		      "%04x:%02x:%02x.%x: ATS %d atc_required %d, expected "
		      "%d %d", cases[i].seg, cases[i].bus, cases[i].dev,
		      cases[i].fn, ret, atc, cases[i].allowed,
		      cases[i].atc_required);
	}
	/* NULL atc_required is fine. */
	dev = bdf(0, 0, 2, 0);
	CHECK_EQ(vtd_dmar_ats_allowed(d, root, &dev, NULL), 1);
	/* Without topology, the root port's range is unknown. */
	dev = bdf(0, 0x10, 0, 0);
	CHECK_EQ(vtd_dmar_ats_allowed(d, empty, &dev, NULL), 0);
	vtd_dmar_free(d);
}

/* Broken or odd topologies: what is skipped and what is an error. */
static void test_server_sysfs_errors(void)
{
	char root[ROOT_MAX], path[PATH_MAX + 16], dir[PATH_MAX];
	struct vtd_dmar_range r[4];
	enum vtd_dmar_match how;
	struct vtd_dmar_bdf dev;
	struct vtd_dmar *d;

	if (server_path == NULL)
		SKIP_TEST("no compiled server table (iasl missing?)");
	d = parse_server();
	REQUIRE(d != NULL, "no table");

	/* 00:1c.0 is not a bridge (header type 0): the 2-hop scope through
	 * it names nothing, so 20:00.0 falls to the catch-all unit. */
	MUST(make_server_sysfs(root, sizeof(root), "sysfs-notbridge") == 0,
		"fake sysfs");
	MUST(fake_device(root, 0, 0, 0x1c, 0, 0x00, 0x20, 0x20, 64) == 0,
		"fake device");
	dev = bdf(0, 0x20, 0, 0);
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), 1);
	CHECK_EQ(how, VTD_DMAR_MATCH_INCLUDE_ALL);
	/* Multi-function bridge (header type 0x81) is still a bridge. */
	MUST(fake_device(root, 0, 0, 0x1c, 0, 0x81, 0x20, 0x20, 64) == 0,
		"fake device");
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), 0);
	CHECK_EQ(how, VTD_DMAR_MATCH_ENDPOINT);

	/* An unconfigured bridge (secondary bus 0) has nothing below. */
	MUST(fake_device(root, 0, 0, 0x03, 0, 0x01, 0, 0, 64) == 0,
		"fake device");
	dev = bdf(0, 0x10, 0, 0);
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), 1);
	CHECK_EQ(how, VTD_DMAR_MATCH_INCLUDE_ALL);
	/* ... not even bus 0, which its zeroed range would seem to hold. */
	dev = bdf(0, 0x00, 0x14, 0);
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), 1);
	CHECK_EQ(how, VTD_DMAR_MATCH_INCLUDE_ALL);

	/* A config file too short to hold the bus numbers is an error, not
	 * a silent fallback to the catch-all unit. */
	MUST(fake_device(root, 0, 0, 0x03, 0, 0x01, 0x10, 0x1f, 16) == 0,
		"fake device");
	dev = bdf(0, 0x10, 0, 0);
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), -EIO);
	CHECK_EQ(how, VTD_DMAR_MATCH_NONE);
	CHECK_EQ(vtd_dmar_ats_allowed(d, root, &dev, NULL), -EIO);
	/* Segment 0's RMRRs have one-hop endpoint scopes only: no read. */
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 4), 0);
	/* ... but a device matched before that scope is still answered. */
	dev = bdf(0, 0, 0x02, 0);
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), 0);
	CHECK_EQ(how, VTD_DMAR_MATCH_ENDPOINT);

	/* An unreadable config (here a directory) is an error too. */
	MUST(make_server_sysfs(root, sizeof(root), "sysfs-unreadable") == 0,
		"fake sysfs");
	device_dir(dir, sizeof(dir), root, 0, 0, 0x1c, 0);
	snprintf(path, sizeof(path), "%s/config", dir);
	REQUIRE(remove(path) == 0 && mkdir(path, 0755) == 0, "config dir");
	dev = bdf(0, 0x21, 0, 0);
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), -EISDIR);
	dev = bdf(0, 0x10, 0, 0); /* matched by 03.0 before 1c.0 is read */
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), 0);
	CHECK_EQ(how, VTD_DMAR_MATCH_BRIDGE);

	/* A sysfs root that does not exist is an empty topology. */
	dev = bdf(0, 0x10, 0, 0);
	CHECK_EQ(vtd_dmar_find_unit(d, "/nonexistent-uvtd-sysfs", &dev, &how),
		 1);
	vtd_dmar_free(d);
}

/* vtd_dmar_scope_resolve() on hand-made scopes, up to three hops. */
static void test_scope_resolve(void)
{
	static const struct vtd_dmar_path_hop three[] = {
		{0x02, 0}, {0x00, 0}, {0x01, 2},
	};
	struct vtd_dmar_scope s = {
		.type = VTD_DMAR_SCOPE_PCI_ENDPOINT, .length = 12,
		.start_bus = 0x80, .path_len = 3, .path = three,
	};
	struct vtd_dmar_bdf out;
	uint8_t lo = 0, hi = 0;
	char root[ROOT_MAX];

	MUST(make_server_sysfs(root, sizeof(root), "sysfs-resolve") == 0,
		"fake sysfs");
	/* 80:02.0 -> bus 81, 81:00.0 -> bus 82, then 82:01.2. */
	CHECK_EQ(vtd_dmar_scope_resolve(root, 1, &s, &out, &lo, &hi), 0);
	CHECK(out.segment == 1 && out.bus == 0x82 && out.device == 1 &&
	      out.function == 2, "resolved to %04x:%02x:%02x.%x", out.segment,
	      out.bus, out.device, out.function);
	CHECK(lo == 0 && hi == 0, "bus range set for an endpoint");
	/* As a bridge scope: 82:01.2 must be a bridge; it is absent. */
	s.type = VTD_DMAR_SCOPE_PCI_SUBHIERARCHY;
	CHECK_EQ(vtd_dmar_scope_resolve(root, 1, &s, &out, &lo, &hi), -ENOENT);
	MUST(fake_bridge(root, 1, 0x82, 0x01, 2, 0x84, 0x85) == 0, "bridge");
	CHECK_EQ(vtd_dmar_scope_resolve(root, 1, &s, &out, &lo, &hi), 0);
	CHECK_EQ(lo, 0x84);
	CHECK_EQ(hi, 0x85);
	/* Bus range not wanted: no read of the last bridge needed. */
	CHECK_EQ(vtd_dmar_scope_resolve(root, 1, &s, &out, NULL, NULL), 0);
	/* Segment 0 has no 80:02.0. */
	CHECK_EQ(vtd_dmar_scope_resolve(root, 0, &s, &out, NULL, NULL),
		 -ENOENT);
	/* One hop needs no sysfs at all. */
	s.path_len = 1;
	CHECK_EQ(vtd_dmar_scope_resolve("/nonexistent-uvtd-sysfs", 3, &s, &out,
					NULL, NULL), 0);
	CHECK(out.segment == 3 && out.bus == 0x80 && out.device == 2 &&
	      out.function == 0, "one hop resolved to %04x:%02x:%02x.%x",
	      out.segment, out.bus, out.device, out.function);
	/* Bad arguments. */
	CHECK_EQ(vtd_dmar_scope_resolve(root, 1, NULL, &out, NULL, NULL),
		 -EINVAL);
	CHECK_EQ(vtd_dmar_scope_resolve(root, 1, &s, NULL, NULL, NULL),
		 -EINVAL);
	s.type = VTD_DMAR_SCOPE_IOAPIC;
	CHECK_EQ(vtd_dmar_scope_resolve(root, 1, &s, &out, NULL, NULL),
		 -EINVAL);
	s.type = VTD_DMAR_SCOPE_PCI_ENDPOINT;
	s.path_len = 0;
	CHECK_EQ(vtd_dmar_scope_resolve(root, 1, &s, &out, NULL, NULL),
		 -EINVAL);
}

/* ------------------------------------------------------------------------
 * Summary
 */

static char *print_to_string(const struct vtd_dmar *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int ret;

	if (f == NULL)
		return NULL;
	ret = vtd_dmar_print(d, f);
	fclose(f);
	if (ret != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static void test_summary(void)
{
	static const char *const lines[] = {
		"DMAR: 443 bytes, revision 1, OEM \"UVTD  \" \"SERVER  \" "
		"revision 0x2, creator \"UVTD\" revision 0x3\n",
		"  host address width 46 bits, flags 0x05 INTR_REMAP "
		"DMA_CTRL_PLATFORM_OPT_IN\n",
		"  DRHD 0 at 0x30: base 0xfbffc000, size 8 KiB, segment 0, "
		"flags 0x00, proximity domain 0\n",
		"    scope at 0x40: PCI endpoint 0000:00:02.0\n",
		"    scope at 0x48: PCI bridge 0000:00:03.0, flags 0x01\n",
		"    scope at 0x50: PCI endpoint 0000:00 path 1c.0/00.0\n",
		"  DRHD 1 at 0x5a: base 0xfed90000, size 4 KiB, segment 0, "
		"flags 0x01 INCLUDE_PCI_ALL\n",
		"    scope at 0x6a: IOAPIC id 8 at 0000:f0:1f.0\n",
		"    scope at 0x72: HPET id 0 at 0000:00:1e.6\n",
		"    scope at 0x7a: ACPI namespace device id 1 "
		"\"\\_SB.PCI0.UAR1\" at 0000:00:15.0\n",
		"  DRHD 2 at 0x82: base 0x3fffe000000, size 32 KiB, segment 1, "
		"flags 0x00, proximity domain 1\n",
		"    scope at 0x92: PCI bridge 0001:80 path 02.0/00.0\n",
		"  DRHD 3 at 0x9c: base 0x3fffe010000, size 4 KiB, segment 1, "
		"flags 0x01 INCLUDE_PCI_ALL\n",
		"  RMRR 0 at 0xac: segment 0, [0x3e2e0000, 0x3e2fffff]\n",
		"    scope at 0xcc: PCI endpoint 0000:00:1a.0\n",
		"  RMRR 3 at 0x114: segment 1, [0x7f000000, 0x7f0fffff]\n",
		"    scope at 0x12c: PCI bridge 0001:80:02.0\n",
		"  ATSR 0 at 0x134: segment 0, flags 0x00\n",
		"  ATSR 1 at 0x144: segment 1, flags 0x01 ALL_PORTS\n",
		"  RHSA 1 at 0x160: base 0x3fffe000000, proximity domain 1 "
		"(DRHD 2)\n",
		"  RHSA 2 at 0x174: base 0xdead0000, proximity domain 7 "
		"(no DRHD at that base)\n",
		"  ANDD 0 at 0x188: device 1 \"\\_SB.PCI0.UAR1\"\n",
		"  SATC 0 at 0x19f: segment 0, flags 0x01 ATC_REQUIRED\n",
		"    scope at 0x1a7: PCI endpoint 0000:00:02.0\n",
		"  1 structure(s) of reserved type skipped\n",
	};
	struct vtd_dmar *d;
	char *text;
	size_t i;

	if (server_path == NULL)
		SKIP_TEST("no compiled server table (iasl missing?)");
	d = parse_server();
	REQUIRE(d != NULL, "no table");
	text = print_to_string(d);
	REQUIRE(text != NULL, "print failed");
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		CHECK(strstr(text, lines[i]) != NULL, "summary lacks line: %s",
		      lines[i]);
	/* The first line starts the text; structures come in type order. */
	CHECK(strncmp(text, lines[0], strlen(lines[0])) == 0,
	      "summary starts with: %.80s", text);
	CHECK(strstr(text, "DRHD 3") < strstr(text, "RMRR 0") &&
	      strstr(text, "RMRR 3") < strstr(text, "ATSR 0"),
	      "structures out of order");
	if (uvtd_test_state.current_failed)
		fprintf(stderr, "summary was:\n%s", text);
	free(text);
	CHECK_EQ(vtd_dmar_print(d, NULL), -EINVAL);
	CHECK_EQ(vtd_dmar_print(NULL, stdout), -EINVAL);
	vtd_dmar_free(d);
}

/* ------------------------------------------------------------------------
 * Tables built in C: valid parse, then every kind of damage
 */

static void test_ctable(void)
{
	struct vtd_dmar_range r[2];
	struct vtd_dmar *d = NULL;
	enum vtd_dmar_match how;
	struct vtd_dmar_bdf dev;
	char err[256] = "", root[ROOT_MAX], *text;
	struct tb t;
	int ret;

	build_ctable(&t);
	REQUIRE(t.n == CT_END, "builder wrote %zu bytes, expected %d", t.n,
		CT_END);
	ret = vtd_dmar_parse(t.b, t.n, &d, err, sizeof(err));
	REQUIRE(ret == 0 && d != NULL, "parse: %d %s", ret, err);
	CHECK_EQ(d->haw, 39);
	CHECK_EQ(d->ndrhd, 2);
	CHECK_EQ(d->nrmrr, 1);
	CHECK_EQ(d->natsr, 1);
	CHECK_EQ(d->nrhsa, 1);
	CHECK_EQ(d->nandd, 1);
	CHECK_EQ(d->nsatc, 1);
	CHECK_EQ(d->nunknown, 1);
	CHECK_EQ(d->nscopes, 7);
	REQUIRE(d->ndrhd == 2 && d->nandd == 1 && d->nrhsa == 1, "counts");
	CHECK_EQ(d->drhd[0].offset, CT_DRHD0);
	CHECK_EQ(d->drhd[0].reg_size, 16384);
	CHECK(d->drhd[0].has_proximity && d->drhd[0].proximity_domain == 3,
	      "proximity");
	CHECK_EQ(d->drhd[1].offset, CT_DRHD1);
	CHECK_EQ(d->rmrr[0].offset, CT_RMRR);
	CHECK_EQ(d->atsr[0].offset, CT_ATSR);
	CHECK_EQ(d->rhsa[0].offset, CT_RHSA);
	CHECK_EQ(d->andd[0].offset, CT_ANDD);
	CHECK(strcmp(d->andd[0].name, "\\_SB.I2C0") == 0, "name %s",
	      d->andd[0].name);
	CHECK_EQ(d->satc[0].offset, CT_SATC);
	CHECK_SCOPE(&d->drhd[0].scopes[1], CT_DRHD0_SCOPE1,
		    VTD_DMAR_SCOPE_PCI_SUBHIERARCHY, 0, 0, 0, "1c.0/00.0");

	/* A bridge scope with a two-hop path: 1c.0 -> bus 0x30, whose 00.0
	 * is a bridge to buses 0x31..0x33. */
	MUST(make_dir(root, sizeof(root), "sysfs-ctable") == 0, "mkdir");
	MUST(fake_bridge(root, 0, 0, 0x1c, 0, 0x30, 0x33) == 0 &&
		fake_bridge(root, 0, 0x30, 0, 0, 0x31, 0x33) == 0, "bridges");
	dev = bdf(0, 0x32, 5, 1);
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), 0);
	CHECK_EQ(how, VTD_DMAR_MATCH_BRIDGE);
	dev = bdf(0, 0x30, 0, 0);
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), 0);
	CHECK_EQ(how, VTD_DMAR_MATCH_BRIDGE);
	dev = bdf(0, 0x30, 1, 0); /* beside that bridge */
	CHECK_EQ(vtd_dmar_find_unit(d, root, &dev, &how), 1);
	CHECK_EQ(how, VTD_DMAR_MATCH_INCLUDE_ALL);
	/* ATSR lists root port 1c.0 (buses 0x30..0x33). */
	dev = bdf(0, 0x32, 5, 1);
	CHECK_EQ(vtd_dmar_ats_allowed(d, root, &dev, NULL), 1);
	dev = bdf(0, 0, 0x14, 0);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, root, &dev, r, 2), 1);
	CHECK_EQ(r[0].base, 0x3e000000);
	/* SATC without ATC_REQUIRED. */
	{
		bool atc = true;

		dev = bdf(0, 0, 2, 0);
		CHECK_EQ(vtd_dmar_ats_allowed(d, root, &dev, &atc), 1);
		CHECK(!atc, "atc_required");
	}
	text = print_to_string(d);
	REQUIRE(text != NULL, "print");
	CHECK(strstr(text, "ACPI namespace device id 1 \"\\_SB.I2C0\" at "
		      "0000:00:15.0") != NULL, "summary: %s", text);
	CHECK(strstr(text, "size 16 KiB") != NULL, "summary: %s", text);
	free(text);
	vtd_dmar_free(d);

	/* A buffer longer than the table: the rest is ignored. */
	t.b[t.n] = 0xff;
	ret = vtd_dmar_parse(t.b, t.n + 1, &d, err, sizeof(err));
	CHECK(ret == 0 && d != NULL && d->length == CT_END, "longer buffer: "
	      "%d %s", ret, err);
	vtd_dmar_free(d);
}

/* Damage one thing at a time; each must be refused with the right offset. */
static void test_malformed(void)
{
	struct tb good, t;
	uint8_t big[2 * CT_END];

	build_ctable(&good);
#define FRESH() (t = good)
#define REFIX() fix_checksum(t.b, t.n)

	/* Header. */
	EXPECT_BAD(good.b, 0, 0, "empty buffer");
	EXPECT_BAD(good.b, 35, 0, "shorter than the ACPI header");
	FRESH();
	memcpy(t.b, "DMAX", 4);
	REFIX();
	EXPECT_BAD(t.b, t.n, 0, "wrong signature");
	FRESH();
	memcpy(t.b, "IVRS", 4);
	REFIX();
	EXPECT_BAD(t.b, t.n, 0, "AMD's table");
	FRESH();
	t.b[9] ^= 1;
	EXPECT_BAD(t.b, t.n, 9, "bad checksum");
	FRESH();
	t.b[100] ^= 0x40;
	EXPECT_BAD(t.b, t.n, 9, "a flipped byte breaks the checksum");
	FRESH();
	set_len(t.b, CT_END + 1);
	REFIX();
	EXPECT_BAD(t.b, t.n, 4, "header length larger than the buffer");
	FRESH();
	set_len(t.b, 0xffffffffu);
	EXPECT_BAD(t.b, t.n, 4, "header length 4 GiB");
	FRESH();
	set_len(t.b, 47);
	REFIX();
	EXPECT_BAD(t.b, t.n, 4, "header length below 48");
	FRESH();
	set_len(t.b, 0);
	EXPECT_BAD(t.b, t.n, 4, "header length 0");
	FRESH();
	t.b[36] = 0; /* 1-bit addresses */
	REFIX();
	EXPECT_BAD(t.b, t.n, 36, "host address width 1");
	FRESH();
	t.b[36] = 64; /* 65 bits */
	REFIX();
	EXPECT_BAD(t.b, t.n, 36, "host address width 65");

	/* Structure lengths. */
	FRESH();
	t.b[CT_DRHD0 + 2] = 0;
	t.b[CT_DRHD0 + 3] = 0;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0, "zero-length DRHD");
	FRESH();
	t.b[CT_UNKNOWN + 2] = 0;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_UNKNOWN, "zero-length reserved-type struct");
	FRESH();
	t.b[CT_UNKNOWN + 2] = 3;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_UNKNOWN, "reserved-type struct of 3 bytes");
	FRESH();
	t.b[CT_DRHD0 + 2] = 12;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0, "DRHD below its minimum");
	FRESH();
	t.b[CT_RMRR + 2] = 20;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_RMRR, "RMRR below its minimum");
	FRESH();
	t.b[CT_RHSA + 2] = 16;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_RHSA, "RHSA below its minimum");
	FRESH();
	t.b[CT_ANDD + 2] = 8;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_ANDD, "ANDD without a name");
	FRESH();
	t.b[CT_ATSR + 2] = 6;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_ATSR, "ATSR below its minimum");
	FRESH();
	t.b[CT_SATC + 2] = 7;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_SATC, "SATC below its minimum");
	FRESH();
	t.b[CT_UNKNOWN + 2] = 7;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_UNKNOWN, "last struct runs past the end");
	FRESH();
	t.b[CT_DRHD0 + 3] = 0x10; /* 4 KiB + 34 */
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0, "DRHD runs past the end");
	FRESH();
	t.n += 3; /* 3 stray bytes after the last structure */
	tb_finish(&t);
	EXPECT_BAD(t.b, t.n, CT_END, "trailing bytes after the structures");

	/* Device scopes. */
	FRESH();
	t.b[CT_DRHD0_SCOPE0 + 1] = 0;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0_SCOPE0, "zero-length scope");
	FRESH();
	t.b[CT_DRHD0_SCOPE0 + 1] = 6;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0_SCOPE0, "scope without a path");
	FRESH();
	t.b[CT_DRHD0_SCOPE0 + 1] = 9;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0_SCOPE0, "scope with half a hop");
	FRESH();
	t.b[CT_DRHD0_SCOPE1 + 1] = 12; /* 2 bytes more than the DRHD holds */
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0_SCOPE1, "scope past its structure");
	FRESH();
	t.b[CT_DRHD0_SCOPE1 + 1] = 255;
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0_SCOPE1, "scope length 255");
	FRESH();
	t.b[CT_DRHD0 + 2] += 1; /* DRHD one byte longer: eats the next type */
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0 + 34, "one stray byte after scopes");
	FRESH();
	t.b[CT_DRHD0_SCOPE0 + 6] = 32; /* device 32 */
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0_SCOPE0 + 6, "path device 32");
	FRESH();
	t.b[CT_DRHD0_SCOPE1 + 9] = 8; /* second hop function 8 */
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0_SCOPE1 + 8, "path function 8");

	/* Field values. */
	FRESH();
	memset(t.b + CT_DRHD0 + 8, 0, 8);
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0 + 8, "DRHD base 0");
	FRESH();
	t.b[CT_DRHD0 + 8] = 0x10; /* 0xfeb00010 */
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0 + 8, "DRHD base not page aligned");
	FRESH();
	memset(t.b + CT_DRHD0 + 8, 0xff, 8);
	t.b[CT_DRHD0 + 8] = 0x00;
	t.b[CT_DRHD0 + 9] = 0xf0; /* 0xfff...f000 + 16 KiB wraps */
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_DRHD0 + 8, "DRHD register set wraps");
	FRESH();
	t.b[CT_RMRR + 19] = 0x30; /* limit 0x300fffff < base 0x3e000000 */
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_RMRR + 8, "RMRR base above limit");
	FRESH();
	t.b[CT_ANDD + 17] = 'X'; /* overwrite the name's NUL */
	REFIX();
	EXPECT_BAD(t.b, t.n, CT_ANDD + 8, "ANDD name without NUL");

	/* Accepted oddities: reserved scope type, misaligned RMRR, RHSA of
	 * no unit, upper bits of the DRHD size byte. */
	{
		struct vtd_dmar *d = NULL;
		char err[256] = "", *text;
		int ret;

		FRESH();
		t.b[CT_DRHD0_SCOPE0] = 0x77;
		t.b[CT_RMRR + 8] = 0x10;
		t.b[CT_RHSA + 8] = 0x00;
		t.b[CT_RHSA + 9] = 0x10;
		t.b[CT_DRHD0 + 5] = 0x5b; /* bits 7:4 reserved, N = 11 */
		REFIX();
		ret = vtd_dmar_parse(t.b, t.n, &d, err, sizeof(err));
		REQUIRE(ret == 0 && d != NULL, "oddities refused: %d %s", ret,
			err);
		CHECK_EQ(d->drhd[0].scopes[0].type, 0x77);
		CHECK_EQ(d->drhd[0].size_field, 11);
		CHECK_EQ(d->drhd[0].reg_size, UINT64_C(8) << 20);
		CHECK_EQ(d->rmrr[0].base, 0x3e000010);
		CHECK_EQ(d->rhsa[0].drhd, -1);
		CHECK(!d->drhd[0].has_proximity, "proximity from no RHSA");
		text = print_to_string(d);
		REQUIRE(text != NULL, "print");
		CHECK(strstr(text, "scope at 0x40: reserved (type 119) id 0 at "
			      "0000:00:02.0") != NULL, "summary: %s", text);
		CHECK(strstr(text, "(not 4 KiB aligned)") != NULL,
		      "summary: %s", text);
		CHECK(strstr(text, "size 8 MiB") != NULL, "summary: %s", text);
		free(text);
		{
			/* A reserved scope type names no device. */
			struct vtd_dmar_bdf dev = bdf(0, 0, 2, 0);
			enum vtd_dmar_match how;

			CHECK_EQ(vtd_dmar_find_unit(d, "/nonexistent", &dev,
						    &how), 1);
		}
		vtd_dmar_free(d);
	}

	/* Two INCLUDE_PCI_ALL units on one segment (firmware should list
	 * one): the first in table order takes the unclaimed devices. */
	{
		struct vtd_dmar_bdf dev = bdf(0, 0x40, 0, 0);
		enum vtd_dmar_match how;
		struct vtd_dmar *d = NULL;
		char err[256] = "";
		size_t s;
		int ret;

		tb_header(&t, 38, 0);
		for (s = 0; s < 2; s++) {
			size_t st = tb_begin(&t, VTD_DMAR_TYPE_DRHD);

			put8(&t, VTD_DMAR_DRHD_F_INCLUDE_PCI_ALL);
			put8(&t, 0);
			put16(&t, 0);
			put64(&t, 0xfed90000 + 0x1000 * s);
			tb_end(&t, st);
		}
		tb_finish(&t);
		ret = vtd_dmar_parse(t.b, t.n, &d, err, sizeof(err));
		REQUIRE(ret == 0 && d != NULL, "two catch-alls: %d %s", ret,
			err);
		CHECK_EQ(vtd_dmar_find_unit(d, "/nonexistent", &dev, &how), 0);
		CHECK_EQ(how, VTD_DMAR_MATCH_INCLUDE_ALL);
		vtd_dmar_free(d);
	}

	/* Big buffers with the length field pointing just right. */
	memcpy(big, good.b, good.n);
	memset(big + good.n, 0, sizeof(big) - good.n);
	{
		struct vtd_dmar *d = NULL;
		int ret = vtd_dmar_parse(big, sizeof(big), &d, NULL, 0);

		CHECK(ret == 0, "parse with NULL err: %d", ret);
		vtd_dmar_free(d);
	}
#undef FRESH
#undef REFIX
}

/* Every truncation length, both raw (the header still claims the full
 * length) and with the header length and checksum patched to match (so the
 * structure walker meets the cut). Valid exactly at structure boundaries. */
static void truncations(const uint8_t *full, size_t len, const char *name)
{
	size_t bounds[256], nb = boundaries(full, len, bounds, 256), n, i;
	unsigned valid = 0;

	for (n = 0; n <= len; n++) {
		struct vtd_dmar *d = NULL;
		char err[256] = "";
		bool boundary = false;
		int ret;

		/* A fresh, exactly sized copy so ASan sees any overread. */
		uint8_t *cut = malloc(n ? n : 1);

		REQUIRE(cut != NULL, "malloc");
		memcpy(cut, full, n);
		ret = vtd_dmar_parse(cut, n, &d, err, sizeof(err));
		if (n < len)
			CHECK(ret == -EINVAL && d == NULL && strstr(err,
			      "offset") != NULL, "%s raw cut at %zu: %d %s",
			      name, n, ret, err);
		else
			CHECK(ret == 0 && d != NULL, "%s uncut: %d %s", name,
			      ret, err);
		vtd_dmar_free(d);
		d = NULL;

		if (n >= 10) {
			set_len(cut, (uint32_t)n);
			fix_checksum(cut, n);
		}
		for (i = 0; i < nb; i++)
			boundary |= bounds[i] == n;
		ret = vtd_dmar_parse(cut, n, &d, err, sizeof(err));
		if (boundary) {
			CHECK(ret == 0 && d != NULL, "%s patched cut at %zu "
			      "(a boundary): %d %s", name, n, ret, err);
			valid++;
		} else {
			CHECK(ret == -EINVAL && d == NULL &&
			      strstr(err, "offset") != NULL,
			      "%s patched cut at %zu: %d %s", name, n, ret,
			      err);
		}
		vtd_dmar_free(d);
		free(cut);
	}
	CHECK_EQ(valid, nb);
}

static void test_truncations(void)
{
	struct tb t;
	uint8_t *buf;
	size_t len;

	build_ctable(&t);
	truncations(t.b, t.n, "ctable");
	if (qemu_path && (buf = load_file(qemu_path, &len)) != NULL) {
		truncations(buf, len, "qemu");
		free(buf);
	}
	if (server_path && (buf = load_file(server_path, &len)) != NULL) {
		truncations(buf, len, "server");
		free(buf);
	}
}

/* xorshift64: a fixed sequence, so a failure reproduces. */
static uint64_t rnd_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Random byte damage never crashes; whatever parses can be queried and
 * printed. Half the mutants get a fixed checksum, so the walker (not just
 * the checksum) sees them. */
static void fuzz(const uint8_t *full, size_t len, const char *name,
		 unsigned iterations, const char *root)
{
	unsigned it, parsed = 0;
	FILE *devnull = fopen("/dev/null", "w");

	REQUIRE(devnull != NULL, "/dev/null");
	for (it = 0; it < iterations; it++) {
		size_t n = len, flips, k;
		struct vtd_dmar *d = NULL;
		char err[256] = "";
		uint8_t *b;
		int ret;

		/* One in eight mutants is also cut short. */
		if (rnd() % 8 == 0)
			n = (size_t)(rnd() % (len + 1));
		b = malloc(n ? n : 1);
		REQUIRE(b != NULL, "malloc");
		memcpy(b, full, n);
		flips = 1 + rnd() % 4;
		for (k = 0; k < flips && n > 0; k++) {
			size_t pos = (size_t)(rnd() % n);

			/* Mostly structure and scope bytes, where the
			 * interesting lengths live. */
			if (rnd() % 4 && n > VTD_DMAR_HEADER_LEN)
				pos = VTD_DMAR_HEADER_LEN + (size_t)(rnd() %
					(n - VTD_DMAR_HEADER_LEN));
			b[pos] = (uint8_t)rnd();
		}
		if (n >= 10 && rnd() % 2) {
			if (rnd() % 2)
				set_len(b, (uint32_t)n);
			fix_checksum(b, n);
		}
		ret = vtd_dmar_parse(b, n, &d, err, sizeof(err));
		if (ret == 0) {
			unsigned u;

			parsed++;
			CHECK(d != NULL, "%s #%u: success without a table",
			      name, it);
			if (d) {
				struct vtd_dmar_range r[4];
				struct vtd_dmar_bdf dev = bdf(
					rnd() % 3, rnd() % 256, rnd() % 32,
					rnd() % 8);

				CHECK_EQ(vtd_dmar_print(d, devnull), 0);
				ret = vtd_dmar_find_unit(d, root, &dev, NULL);
				CHECK(ret == -ENOENT || (ret >= 0 &&
				      (unsigned)ret < d->ndrhd),
				      "%s #%u: find_unit %d", name, it, ret);
				ret = vtd_dmar_rmrr_for_device(d, root, &dev, r,
							       4);
				CHECK(ret >= 0 && (unsigned)ret <= d->nrmrr,
				      "%s #%u: rmrr %d", name, it, ret);
				ret = vtd_dmar_ats_allowed(d, root, &dev, NULL);
				CHECK(ret == 0 || ret == 1, "%s #%u: ats %d",
				      name, it, ret);
				for (u = 0; u < d->ndrhd; u++)
					CHECK(d->drhd[u].nscopes == 0 ||
					      d->drhd[u].scopes != NULL,
					      "%s #%u: scopes", name, it);
			}
		} else {
			CHECK(ret == -EINVAL && d == NULL && err[0] != '\0',
			      "%s #%u: parse %d, message \"%s\"", name, it,
			      ret, err);
		}
		vtd_dmar_free(d);
		free(b);
	}
	fclose(devnull);
	printf("# fuzz %s: %u mutants, %u parsed\n", name, iterations, parsed);
}

static void test_fuzz(void)
{
	char root[ROOT_MAX];
	struct tb t;
	uint8_t *buf;
	size_t len;

	MUST(make_server_sysfs(root, sizeof(root), "sysfs-fuzz") == 0,
		"fake sysfs");
	build_ctable(&t);
	fuzz(t.b, t.n, "ctable", 4000, root);
	if (server_path && (buf = load_file(server_path, &len)) != NULL) {
		fuzz(buf, len, "server", 4000, root);
		free(buf);
	}
}

/* ------------------------------------------------------------------------
 * Files, arguments, BDF strings
 */

static void test_parse_file(void)
{
	struct vtd_dmar *d = (struct vtd_dmar *)(uintptr_t)1;
	char path[PATH_MAX + 32], err[512] = "";
	struct tb t;
	FILE *f;
	int ret;

	ret = vtd_dmar_parse_file("/nonexistent/DMAR", &d, err, sizeof(err));
	CHECK_EQ(ret, -ENOENT);
	REQUIRE(d == NULL, "*out not cleared");
	CHECK(strstr(err, "/nonexistent/DMAR") != NULL, "message: %s", err);

	ret = vtd_dmar_parse_file(tmp_root, &d, err, sizeof(err));
	CHECK_EQ(ret, -EISDIR);

	snprintf(path, sizeof(path), "%s/empty.aml", tmp_root);
	f = fopen(path, "wb");
	REQUIRE(f != NULL, "create %s", path);
	fclose(f);
	ret = vtd_dmar_parse_file(path, &d, err, sizeof(err));
	CHECK_EQ(ret, -EINVAL);
	CHECK(strstr(err, "offset 0") != NULL, "message: %s", err);

	/* A file made of a valid table (read in several chunks: it is larger
	 * than the first 4 KiB buffer once padded). */
	build_ctable(&t);
	snprintf(path, sizeof(path), "%s/ctable.aml", tmp_root);
	f = fopen(path, "wb");
	REQUIRE(f != NULL, "create %s", path);
	fwrite(t.b, 1, t.n, f);
	{
		static uint8_t pad[8192];

		fwrite(pad, 1, sizeof(pad), f);
	}
	fclose(f);
	ret = vtd_dmar_parse_file(path, &d, err, sizeof(err));
	CHECK(ret == 0 && d != NULL && d->ndrhd == 2, "ctable.aml: %d %s", ret,
	      err);
	vtd_dmar_free(d);

	/* Too big. */
	snprintf(path, sizeof(path), "%s/huge.aml", tmp_root);
	f = fopen(path, "wb");
	REQUIRE(f != NULL, "create %s", path);
	fwrite(t.b, 1, t.n, f);
	MUST(fseek(f, VTD_DMAR_MAX_FILE_SIZE + 1, SEEK_SET) == 0 &&
		fputc(0, f) == 0, "extend");
	fclose(f);
	ret = vtd_dmar_parse_file(path, &d, err, sizeof(err));
	CHECK_EQ(ret, -EFBIG);
	CHECK(d == NULL, "*out set");

	/* The same table by file and by buffer. */
	if (qemu_path) {
		struct vtd_dmar *a = NULL, *b = NULL;
		uint8_t *buf;
		size_t len;

		buf = load_file(qemu_path, &len);
		REQUIRE(buf != NULL, "load %s", qemu_path);
		CHECK_EQ(vtd_dmar_parse(buf, len, &a, err, sizeof(err)), 0);
		CHECK_EQ(vtd_dmar_parse_file(qemu_path, &b, err, sizeof(err)),
			 0);
		CHECK(a && b && a->drhd[0].base == b->drhd[0].base &&
		      a->length == b->length, "file and buffer differ");
		vtd_dmar_free(a);
		vtd_dmar_free(b);
		free(buf);
	}
}

static void test_bad_arguments(void)
{
	struct vtd_dmar_bdf dev = bdf(0, 0, 2, 0), bad = bdf(0, 0, 32, 0);
	struct vtd_dmar *d = NULL, *tmp = NULL;
	struct vtd_dmar_range r[1];
	char err[128] = "";
	struct tb t;

	build_ctable(&t);
	CHECK_EQ(vtd_dmar_parse(t.b, t.n, NULL, err, sizeof(err)), -EINVAL);
	CHECK(err[0] != '\0', "no message for NULL out");
	CHECK_EQ(vtd_dmar_parse(NULL, 64, &tmp, err, sizeof(err)), -EINVAL);
	CHECK(tmp == NULL, "out set");
	CHECK_EQ(vtd_dmar_parse_file(NULL, NULL, NULL, 0), -EINVAL);
	/* A one-byte error buffer gets an empty string, nothing more. */
	err[0] = 'x';
	err[1] = 'y';
	CHECK_EQ(vtd_dmar_parse(t.b, 3, &tmp, err, 1), -EINVAL);
	CHECK(err[0] == '\0' && err[1] == 'y', "err overflow");
	MUST(vtd_dmar_parse(t.b, t.n, &d, NULL, 0) == 0, "parse");

	CHECK_EQ(vtd_dmar_find_unit(NULL, "/x", &dev, NULL), -EINVAL);
	CHECK_EQ(vtd_dmar_find_unit(d, "/x", NULL, NULL), -EINVAL);
	CHECK_EQ(vtd_dmar_find_unit(d, "/x", &bad, NULL), -EINVAL);
	bad = bdf(0, 0, 2, 8);
	CHECK_EQ(vtd_dmar_find_unit(d, "/x", &bad, NULL), -EINVAL);
	CHECK_EQ(vtd_dmar_rmrr_for_device(NULL, "/x", &dev, r, 1), -EINVAL);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, "/x", NULL, r, 1), -EINVAL);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, "/x", &dev, NULL, 1), -EINVAL);
	CHECK_EQ(vtd_dmar_rmrr_for_device(d, "/x", &bad, r, 1), -EINVAL);
	CHECK_EQ(vtd_dmar_ats_allowed(NULL, "/x", &dev, NULL), -EINVAL);
	CHECK_EQ(vtd_dmar_ats_allowed(d, "/x", NULL, NULL), -EINVAL);
	CHECK_EQ(vtd_dmar_ats_allowed(d, "/x", &bad, NULL), -EINVAL);
	CHECK_EQ(vtd_dmar_bdf_parse(NULL, &dev), -EINVAL);
	CHECK_EQ(vtd_dmar_bdf_parse("00:02.0", NULL), -EINVAL);
	CHECK(strcmp(vtd_dmar_scope_type_name(0), "reserved") == 0 &&
	      strcmp(vtd_dmar_scope_type_name(200), "reserved") == 0 &&
	      strcmp(vtd_dmar_scope_type_name(2), "PCI bridge") == 0,
	      "scope type names");
	vtd_dmar_free(d);
	vtd_dmar_free(NULL);
}

static void test_bdf_parse(void)
{
	static const struct {
		const char *s;
		int ret;
		unsigned seg, bus, dev, fn;
	} cases[] = {
		{"0000:00:02.0", 0, 0, 0, 2, 0},
		{"0001:83:1f.7", 0, 1, 0x83, 0x1f, 7},
		{"ffff:ff:00.1", 0, 0xffff, 0xff, 0, 1},
		{"00:14.0", 0, 0, 0, 0x14, 0},
		{"3a:00.3", 0, 0, 0x3a, 0, 3},
		{"00:20.0", -EINVAL, 0, 0, 0, 0},	/* device 32 */
		{"00:02.8", -EINVAL, 0, 0, 0, 0},	/* function 8 */
		{"00:02.0x", -EINVAL, 0, 0, 0, 0},
		{"0000:00:02.0 ", -EINVAL, 0, 0, 0, 0},
		{"0x00:02.0", -EINVAL, 0, 0, 0, 0},
		{"-1:02.0", -EINVAL, 0, 0, 0, 0},
		{"10000:00:02.0", -EINVAL, 0, 0, 0, 0},
		{"", -EINVAL, 0, 0, 0, 0},
		{"00:02", -EINVAL, 0, 0, 0, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vtd_dmar_bdf b = bdf(9, 9, 9, 9);
		int ret = vtd_dmar_bdf_parse(cases[i].s, &b);

		CHECK(ret == cases[i].ret, "\"%s\": %d, expected %d",
		      cases[i].s, ret, cases[i].ret);
		if (ret == 0 && cases[i].ret == 0)
			CHECK(b.segment == cases[i].seg &&
			      b.bus == cases[i].bus &&
			      b.device == cases[i].dev &&
			      b.function == cases[i].fn,
			      "\"%s\" gave %04x:%02x:%02x.%x", cases[i].s,
			      b.segment, b.bus, b.device, b.function);
	}
}

/* ------------------------------------------------------------------------
 * The checks bite: a planted wrong expectation must be reported, and a
 * known-bad table must be refused.
 */
static void test_checks_bite(void)
{
	struct vtd_dmar *d = NULL;
	char err[256] = "";
	int caught, ret;
	struct tb t;

	build_ctable(&t);
	MUST(vtd_dmar_parse(t.b, t.n, &d, err, sizeof(err)) == 0, "parse");
	/* The planted bug: the C table's first unit is at 0xfeb00000, not
	 * 0xfeb01000. The failure is recorded, then taken back, so that
	 * this test passes exactly when the check did fire. */
	fprintf(stderr, "(test_checks_bite: the next FAIL line is expected)\n");
	CHECK_EQ(d->drhd[0].base, 0xfeb01000);
	caught = uvtd_test_state.current_failed;
	uvtd_test_state.current_failed = 0;
	CHECK(caught, "a wrong expectation was not detected");
	vtd_dmar_free(d);

	/* A table with one byte of damage is refused. */
	t.b[CT_DRHD0_SCOPE1 + 1] = 0;
	fix_checksum(t.b, t.n);
	d = NULL;
	ret = vtd_dmar_parse(t.b, t.n, &d, err, sizeof(err));
	CHECK(ret == -EINVAL && d == NULL, "damaged table accepted: %d", ret);
	vtd_dmar_free(d);
}

int main(int argc, char **argv)
{
	int status;

	qemu_path = argc > 1 ? argv[1] : NULL;
	server_path = argc > 2 ? argv[2] : NULL;
	snprintf(tmp_root, sizeof(tmp_root), "%s/uvtd-test-dmar-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmp_root) == NULL) {
		perror("mkdtemp");
		return 1;
	}

	RUN(test_checks_bite);
	RUN(test_bad_arguments);
	RUN(test_bdf_parse);
	RUN(test_qemu_table);
	RUN(test_server_fields);
	RUN(test_server_units);
	RUN(test_server_rmrr);
	RUN(test_server_ats);
	RUN(test_server_sysfs_errors);
	RUN(test_scope_resolve);
	RUN(test_summary);
	RUN(test_ctable);
	RUN(test_malformed);
	RUN(test_truncations);
	RUN(test_fuzz);
	RUN(test_parse_file);

	status = TEST_SUMMARY();
	nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return status;
}
