/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu life cycle: configuration defaults, creation in the reset state
 * (VT-d spec §10.4), memory access through the resolver, statistics.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vtdemu_fe.h"

void vtdemu_config_init(struct vtdemu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	(void)vtdemu_preset("server", &cfg->caps);
	cfg->mode = VTDEMU_INLINE;
	/* Unbounded caches: nothing is ever evicted, so a missing
	 * invalidation always shows. */
	cfg->cache.cm_cache_not_present = true;
	cfg->cache.pwc_enabled = true;
	vtdemu_cost_default(&cfg->cost);
	cfg->check_stale = true;
	cfg->stale_log_max = 64;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

__thread struct emu_shard_tls emu_shard_tls[EMU_SHARD_TLS];
static __thread unsigned int emu_shard_tls_next;
static uint64_t emu_serial_next;

struct emu_stat_shard *emu_shard_slow(struct vtdemu *emu)
{
	pthread_t self = pthread_self();
	struct emu_stat_shard *sh;

	pthread_mutex_lock(&emu->stats_lock);
	for (sh = atomic_load_explicit(&emu->shards, memory_order_acquire);
	     sh != NULL; sh = sh->next)
		if (pthread_equal(sh->owner, self))
			break;   /* ours, or a finished thread's with our id */
	if (sh == NULL) {
		sh = aligned_alloc(64, sizeof(*sh));
		if (sh != NULL) {
			memset(sh, 0, sizeof(*sh));
			sh->owner = self;
			sh->owned = true;
			sh->next = atomic_load_explicit(&emu->shards,
							memory_order_relaxed);
			/* Release: a summing reader sees the zeroed shard. */
			atomic_store_explicit(&emu->shards, sh,
					      memory_order_release);
		}
	}
	pthread_mutex_unlock(&emu->stats_lock);
	if (sh == NULL)
		return &emu->spill;     /* not remembered: try again later */
	emu_shard_tls[emu_shard_tls_next].serial = emu->serial;
	emu_shard_tls[emu_shard_tls_next].sh = sh;
	emu_shard_tls_next = (emu_shard_tls_next + 1) % EMU_SHARD_TLS;
	return sh;
}

static uint64_t stat_raw(struct vtdemu *emu, size_t off)
{
	uint64_t v = __atomic_load_n((const uint64_t *)(const void *)
				     ((const uint8_t *)&emu->spill.s + off),
				     __ATOMIC_RELAXED);

	for (struct emu_stat_shard *sh = atomic_load_explicit(&emu->shards,
						memory_order_acquire);
	     sh != NULL; sh = sh->next)
		v += __atomic_load_n((const uint64_t *)(const void *)
				     ((const uint8_t *)&sh->s + off),
				     __ATOMIC_RELAXED);
	return v;
}

uint64_t emu_stat_sum(struct vtdemu *emu, size_t off)
{
	uint64_t v, b;

	pthread_mutex_lock(&emu->stats_lock);
	v = stat_raw(emu, off);
	b = *(const uint64_t *)(const void *)((const uint8_t *)&emu->base + off);
	pthread_mutex_unlock(&emu->stats_lock);
	return v - b;
}

void emu_stat_rebase(struct vtdemu *emu, size_t off)
{
	pthread_mutex_lock(&emu->stats_lock);
	*(uint64_t *)(void *)((uint8_t *)&emu->base + off) = stat_raw(emu, off);
	pthread_mutex_unlock(&emu->stats_lock);
}

struct vtdemu *vtdemu_create(const struct vtdemu_config *cfg, char *err,
			     size_t errlen)
{
	char buf[256];

	if (cfg == NULL) {
		set_err(err, errlen, "config: NULL");
		return NULL;
	}
	if (cfg->resolve == NULL) {
		set_err(err, errlen, "config: no resolve callback");
		return NULL;
	}
	if (cfg->mode != VTDEMU_INLINE && cfg->mode != VTDEMU_THREADED) {
		set_err(err, errlen, "config: unknown mode");
		return NULL;
	}
	if (vtdemu_caps_check(&cfg->caps, buf, sizeof(buf)) != 0) {
		set_err(err, errlen, buf);
		return NULL;
	}

	struct vtdemu *emu = aligned_alloc(64, (sizeof(*emu) + 63) & ~(size_t)63);
	if (emu == NULL) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	memset(emu, 0, sizeof(*emu));
	/* Never 0 (an empty thread-local slot), never reused. */
	emu->serial = __atomic_add_fetch(&emu_serial_next, 1, __ATOMIC_RELAXED);
	pthread_mutex_init(&emu->stats_lock, NULL);
	emu->cfg = *cfg;
	emu->ver = cfg->caps.ver;
	emu->cap = cfg->caps.cap;
	emu->ecap = cfg->caps.ecap;
	emu->regs_size = emu_caps_regs_size(&cfg->caps);
	emu->regs = aligned_alloc(4096, emu->regs_size);
	if (emu->regs == NULL) {
		pthread_mutex_destroy(&emu->stats_lock);
		free(emu);
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&emu->reg_lock, NULL);
	pthread_mutex_init(&emu->fault_lock, NULL);
	if (emu_qi_init(emu, err, errlen) != 0)
		goto fail_qi;
	emu_regs_reset(emu);
	if (emu_backend_init(emu, err, errlen) != 0)
		goto fail_backend;
	if (emu_thread_start(emu, err, errlen) != 0)
		goto fail_thread;
	return emu;

fail_thread:
	emu_backend_fini(emu);
fail_backend:
	emu_qi_fini(emu);
fail_qi:
	pthread_mutex_destroy(&emu->stats_lock);
	pthread_mutex_destroy(&emu->fault_lock);
	pthread_mutex_destroy(&emu->reg_lock);
	free(emu->regs);
	free(emu);
	return NULL;
}

void vtdemu_destroy(struct vtdemu *emu)
{
	if (emu == NULL)
		return;
	emu_thread_stop(emu);
	emu_backend_fini(emu);
	emu_qi_fini(emu);
	for (struct emu_stat_shard *sh = emu->shards, *nx; sh != NULL; sh = nx) {
		nx = sh->next;
		free(sh);
	}
	pthread_mutex_destroy(&emu->stats_lock);
	pthread_mutex_destroy(&emu->fault_lock);
	pthread_mutex_destroy(&emu->reg_lock);
	free(emu->regs);
	free(emu);
}

const struct vtdemu_caps *vtdemu_get_caps(const struct vtdemu *emu)
{
	return &emu->cfg.caps;
}

void *emu_mem(struct vtdemu *emu, uint64_t addr, size_t len)
{
	/* The resolver is only ever asked for ranges inside one 4 KiB page. */
	if (len == 0 || len > 4096 || ((addr & 0xfff) + len) > 4096)
		return NULL;
	return emu->cfg.resolve(emu->cfg.resolve_opaque, addr, len);
}

int vtdemu_quiesce(struct vtdemu *emu, uint64_t timeout_ns)
{
	if (emu == NULL)
		return -EINVAL;
	return emu_qi_quiesce(emu, timeout_ns);
}

/* vtdemu_stats is a flat array of uint64_t counters: summed word by word
 * over the shards (relaxed loads; each owner stores relaxed). A reset
 * writes no shard: it records the sums as the new base, which readers
 * subtract, so it cannot lose a concurrent owner's update. */
_Static_assert(sizeof(struct vtdemu_stats) % sizeof(uint64_t) == 0,
	       "vtdemu_stats must hold only uint64_t counters");
#define STATS_WORDS (sizeof(struct vtdemu_stats) / sizeof(uint64_t))

static void stats_raw(struct vtdemu *emu, uint64_t *dst)
{
	const uint64_t *sp = (const uint64_t *)(const void *)&emu->spill.s;

	for (size_t i = 0; i < STATS_WORDS; i++)
		dst[i] = __atomic_load_n(&sp[i], __ATOMIC_RELAXED);
	for (struct emu_stat_shard *sh = atomic_load_explicit(&emu->shards,
						memory_order_acquire);
	     sh != NULL; sh = sh->next) {
		const uint64_t *src = (const uint64_t *)(const void *)&sh->s;

		for (size_t i = 0; i < STATS_WORDS; i++)
			dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	}
}

void vtdemu_stats_get(struct vtdemu *emu, struct vtdemu_stats *stats)
{
	uint64_t *dst = (uint64_t *)(void *)stats;
	const uint64_t *b = (const uint64_t *)(const void *)&emu->base;

	pthread_mutex_lock(&emu->stats_lock);
	stats_raw(emu, dst);
	for (size_t i = 0; i < STATS_WORDS; i++)
		dst[i] -= b[i];
	pthread_mutex_unlock(&emu->stats_lock);
}

void vtdemu_stats_reset(struct vtdemu *emu)
{
	pthread_mutex_lock(&emu->stats_lock);
	stats_raw(emu, (uint64_t *)(void *)&emu->base);
	pthread_mutex_unlock(&emu->stats_lock);
}

const char *vtdemu_desc_stat_name(enum vtdemu_desc_stat kind)
{
	static const char *const names[VTDEMU_DS_KINDS] = {
		[VTDEMU_DS_CC_GLOBAL] = "cc-global",
		[VTDEMU_DS_CC_DOMAIN] = "cc-domain",
		[VTDEMU_DS_CC_DEVICE] = "cc-device",
		[VTDEMU_DS_IOTLB_GLOBAL] = "iotlb-global",
		[VTDEMU_DS_IOTLB_DOMAIN] = "iotlb-domain",
		[VTDEMU_DS_IOTLB_PAGE] = "iotlb-page",
		[VTDEMU_DS_DEVTLB] = "devtlb",
		[VTDEMU_DS_IEC] = "iec",
		[VTDEMU_DS_WAIT] = "wait",
		[VTDEMU_DS_PIOTLB_PASID] = "piotlb-pasid",
		[VTDEMU_DS_PIOTLB_PAGE] = "piotlb-page",
		[VTDEMU_DS_PC_DOMAIN] = "pc-domain",
		[VTDEMU_DS_PC_PASID] = "pc-pasid",
		[VTDEMU_DS_PC_GLOBAL] = "pc-global",
		[VTDEMU_DS_PDEVTLB] = "pdevtlb",
	};

	if ((unsigned int)kind >= VTDEMU_DS_KINDS)
		return "?";
	return names[kind];
}
