/* SPDX-License-Identifier: BSD-3-Clause
 * conf-emu: the conformance cases against lib/vtdemu on the host.
 *
 *   conf-emu --preset NAME [--only SUBSTR] [-v]
 *   conf-emu --check-doc docs/qemu-departures.md
 *
 * Every case gets a fresh unit in its reset state (VT-d spec §10.4) with
 * the preset's VER/CAP/ECAP, inline mode (QEMU processes the queue inside
 * the IQT write too), the default caches (under CAP.CM=1 not-present
 * entries are cached, as the specification allows), and its own arena of
 * "physical" memory. The DMA requester is the emulator's DMA engine with
 * the requester id edu has in the guest. The emulator must meet the
 * specification's outcome of every case: departures are QEMU's only.
 */
#include "conf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtdemu.h"
#include "vtdemu_testkit.h"

#define ARENA_BYTES (16ull << 20)

struct emu_unit {
	struct conf_unit u;
	struct vtk_arena arena;
	struct vtdemu *emu;
	uint8_t devbuf[4096]; /* the DMA device's own buffer, as edu's */
	char name[64];
};

static const char *preset;

static uint64_t emu_rd(struct conf_unit *u, uint32_t off, unsigned int size)
{
	struct emu_unit *e = u->priv;

	return vtdemu_reg_read(e->emu, off, size);
}

static void emu_wr(struct conf_unit *u, uint32_t off, uint64_t v,
		   unsigned int size)
{
	struct emu_unit *e = u->priv;

	vtdemu_reg_write(e->emu, off, v, size);
}

static uint64_t emu_alloc(struct conf_unit *u, uint64_t size, uint64_t align,
			  void **va)
{
	struct emu_unit *e = u->priv;
	uint64_t pa;

	if (align < 8)
		align = 8;
	/* Never across 2 MiB, as the guest's hugepage allocator. */
	if (size > (2u << 20))
		return 0;
	pa = vtk_alloc(&e->arena, size, align);
	if (pa != 0 && (pa >> 21) != ((pa + size - 1) >> 21)) {
		/* Skip to the next 2 MiB and try once more. */
		uint64_t pad = (2u << 20) - ((pa + size) & ((2u << 20) - 1));
		if (vtk_alloc(&e->arena, pad, 8) == 0)
			return 0;
		pa = vtk_alloc(&e->arena, size, align);
	}
	if (pa == 0)
		return 0;
	*va = vtk_ptr(&e->arena, pa);
	return pa;
}

static int emu_dma(struct conf_unit *u, bool to_mem, uint64_t iova,
		   uint32_t len, uint32_t buf_off)
{
	struct emu_unit *e = u->priv;
	struct vtdemu_fault_info fi;
	int64_t r;

	if (len == 0 || len > CONF_DMA_MAX || buf_off + len > CONF_DMA_MAX)
		return -EINVAL;
	/* A fault is the unit's business (recorded or not): like edu, the
	 * device finishes its command either way. */
	if (to_mem)
		r = vtdemu_dma_write(e->emu, CONF_SID, VTDEMU_NO_PASID, iova,
				     e->devbuf + buf_off, len, &fi);
	else
		r = vtdemu_dma_read(e->emu, CONF_SID, VTDEMU_NO_PASID, iova,
				    e->devbuf + buf_off, len, &fi);
	(void)r;
	return 0;
}

static int emu_fresh(struct conf_unit **out, char *why, size_t len)
{
	struct emu_unit *e = calloc(1, sizeof(*e));
	struct vtdemu_config cfg;
	char err[160] = "";

	if (e == NULL) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	if (vtk_arena_init(&e->arena, 0, ARENA_BYTES) != 0) {
		snprintf(why, len, "arena of %llu bytes", ARENA_BYTES);
		free(e);
		return -ENOMEM;
	}
	vtdemu_config_init(&cfg);
	if (vtdemu_preset(preset, &cfg.caps) != 0) {
		snprintf(why, len, "unknown preset '%s'", preset);
		vtk_arena_fini(&e->arena);
		free(e);
		return -EINVAL;
	}
	cfg.resolve = vtk_resolve;
	cfg.resolve_opaque = &e->arena;
	cfg.mode = VTDEMU_INLINE;
	e->emu = vtdemu_create(&cfg, err, sizeof(err));
	if (e->emu == NULL) {
		snprintf(why, len, "vtdemu_create: %s", err);
		vtk_arena_fini(&e->arena);
		free(e);
		return -EINVAL;
	}
	snprintf(e->name, sizeof(e->name), "vtdemu:%s", preset);
	e->u = (struct conf_unit){
		.name = e->name, .is_qemu = false, .priv = e,
		.rd = emu_rd, .wr = emu_wr, .alloc = emu_alloc, .dma = emu_dma,
		.has_dma = true,
	};
	*out = &e->u;
	return 0;
}

static void emu_release(struct conf_unit *u)
{
	struct emu_unit *e = u->priv;

	vtdemu_destroy(e->emu);
	vtk_arena_fini(&e->arena);
	free(e);
}

static int usage(void)
{
	fprintf(stderr, "usage: conf-emu --preset NAME [--only SUBSTR] [-v]\n"
			"       conf-emu --check-doc FILE\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct conf_run_opts o = { .fresh = emu_fresh, .release = emu_release };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--preset") == 0 && i + 1 < argc)
			preset = argv[++i];
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			o.only = argv[++i];
		else if (strcmp(argv[i], "-v") == 0)
			o.verbose = true;
		else if (strcmp(argv[i], "--check-doc") == 0 && i + 1 < argc)
			return conf_check_departure_doc(argv[++i]);
		else
			return usage();
	}
	if (preset == NULL)
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	return conf_run(&o);
}
