/* SPDX-License-Identifier: BSD-3-Clause
 * Guest-side helpers for test/qemu (see guest_util.h).
 */
#include "guest_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ACPI table header (ACPI 6.x §5.2.6) is 36 bytes; the DMAR table adds the
 * host address width (1), flags (1) and 10 reserved bytes (VT-d §8.1), then
 * the remapping structures, each starting with a 16-bit type and length. */
#define ACPI_HDR_LEN 36
#define DMAR_HAW_OFF 36
#define DMAR_FLAGS_OFF 37
#define DMAR_STRUCTS_OFF 48
#define DMAR_TYPE_DRHD 0
/* DRHD (VT-d §8.3): flags +4, size +5, segment +6, register base +8. */
#define DRHD_MIN_LEN 16

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Reads a whole (small) file; sysfs binary attributes report no useful
 * size, so read until EOF. */
static int read_all(const char *path, uint8_t **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (b == NULL || fd < 0) {
		err = b == NULL ? -ENOMEM : -errno;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			uint8_t *nb = cap >= (1u << 20) ? NULL : realloc(b, cap * 2);

			if (nb == NULL) {
				err = -EFBIG;
				goto out;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
out:
	if (fd >= 0)
		close(fd);
	if (err) {
		free(b);
		return err;
	}
	*buf = b;
	*len = n;
	return 0;
}

int guest_dmar_read(const char *path, struct guest_dmar *out, const char **why)
{
	uint8_t *t = NULL, sum = 0;
	size_t len = 0, off;
	uint32_t tlen;
	int err;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	*why = "ok";
	memset(out, 0, sizeof(*out));
	err = read_all(path, &t, &len);
	if (err) {
		*why = "cannot read the table";
		return err;
	}
	err = -EINVAL;
	if (len < DMAR_STRUCTS_OFF || memcmp(t, "DMAR", 4) != 0) {
		*why = "no DMAR signature";
		goto out;
	}
	tlen = get32(t + 4);
	if (tlen < DMAR_STRUCTS_OFF || tlen > len) {
		*why = "table length does not match the file";
		goto out;
	}
	/* All bytes of an ACPI table sum to zero (mod 256). */
	for (size_t i = 0; i < tlen; i++)
		sum = (uint8_t)(sum + t[i]);
	if (sum != 0) {
		*why = "bad checksum";
		goto out;
	}
	out->host_addr_width = (uint8_t)(t[DMAR_HAW_OFF] + 1);
	out->flags = t[DMAR_FLAGS_OFF];
	for (off = DMAR_STRUCTS_OFF; off + 4 <= tlen;) {
		uint16_t type = get16(t + off), slen = get16(t + off + 2);

		if (slen < 4 || off + slen > tlen) {
			*why = "remapping structure runs past the table";
			goto out;
		}
		if (type == DMAR_TYPE_DRHD) {
			struct guest_drhd *d;

			if (slen < DRHD_MIN_LEN) {
				*why = "DRHD too short";
				goto out;
			}
			if (out->n_drhd < sizeof(out->drhd) / sizeof(out->drhd[0])) {
				d = &out->drhd[out->n_drhd];
				d->flags = t[off + 4];
				d->size = t[off + 5] & 0xf;
				d->segment = get16(t + off + 6);
				d->base = get64(t + off + 8);
			}
			out->n_drhd++;
		}
		off += slen;
	}
	err = 0;
out:
	free(t);
	return err;
}

volatile void *guest_map_phys(uint64_t phys, size_t len)
{
	const char *guest = getenv("UVTD_GUEST");
	void *p;
	int fd, saved;

	/* A safety net: the host's /dev/mem is never opened by a test. The rig's
	 * /init sets UVTD_GUEST=1 for everything it runs. */
	if (guest == NULL || strcmp(guest, "1") != 0) {
		fprintf(stderr, "refusing to open /dev/mem outside the QEMU guest "
				"(UVTD_GUEST=1 is set by test/qemu/rig)\n");
		errno = EPERM;
		return NULL;
	}
	/* O_SYNC makes the mapping uncached, as MMIO must be. */
	fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)phys);
	saved = errno;
	close(fd); /* the mapping keeps what it needs */
	errno = saved;
	return p == MAP_FAILED ? NULL : p;
}

void guest_unmap_phys(volatile void *p, size_t len)
{
	if (p != NULL)
		munmap((void *)(uintptr_t)p, len);
}

static int read_hex_file(const char *path, unsigned long *v)
{
	char buf[32];
	FILE *f = fopen(path, "re");
	int ok;

	if (f == NULL)
		return -errno;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!ok)
		return -EIO;
	*v = strtoul(buf, NULL, 16);
	return 0;
}

int guest_pci_find(uint16_t vendor, uint16_t device, char *dir, size_t len)
{
	static const char root[] = "/sys/bus/pci/devices";
	DIR *d = opendir(root);
	struct dirent *e;
	int err = -ENOENT;

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char path[512];
		unsigned long v, dv;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/vendor", root, e->d_name);
		if (read_hex_file(path, &v) || v != vendor)
			continue;
		snprintf(path, sizeof(path), "%s/%s/device", root, e->d_name);
		if (read_hex_file(path, &dv) || dv != device)
			continue;
		snprintf(dir, len, "%s/%s", root, e->d_name);
		err = 0;
		break;
	}
	closedir(d);
	return err;
}

int guest_pci_command_set(const char *dir, uint16_t bits)
{
	char path[512];
	uint8_t cmd[2];
	uint16_t v;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/config", dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The command register is 16 bits at offset 4, little endian. */
	if (pread(fd, cmd, 2, 4) != 2) {
		err = -EIO;
		goto out;
	}
	v = (uint16_t)(get16(cmd) | bits);
	cmd[0] = (uint8_t)v;
	cmd[1] = (uint8_t)(v >> 8);
	if (pwrite(fd, cmd, 2, 4) != 2 || pread(fd, cmd, 2, 4) != 2) {
		err = -EIO;
		goto out;
	}
	err = get16(cmd);
out:
	close(fd);
	return err;
}

uint64_t guest_virt_to_phys(const void *va)
{
	/* One 64-bit entry per virtual 4 KiB page: bit 63 present, bits 54:0 the
	 * frame number (zero unless the reader has CAP_SYS_ADMIN). */
	uint64_t entry = 0, pfn;
	uintptr_t v = (uintptr_t)va;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return 0;
	r = pread(fd, &entry, sizeof(entry), (off_t)(v / 4096 * sizeof(entry)));
	close(fd);
	if (r != sizeof(entry) || !(entry >> 63))
		return 0;
	pfn = entry & ((UINT64_C(1) << 55) - 1);
	if (pfn == 0)
		return 0;
	return pfn * 4096 + (v & 4095);
}

uint64_t guest_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
