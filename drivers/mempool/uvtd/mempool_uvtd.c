/* SPDX-License-Identifier: BSD-3-Clause
 * The "uvtd" mempool ops: how an unmodified DPDK application (dpdk-testpmd)
 * gets uvtd. Debian's DPDK ships no driver-SDK headers, so a vdev or bus
 * driver is out of reach out of tree; the mempool-ops interface is public,
 * and every buffer a device may DMA to comes from a mempool.
 *
 *   dpdk-testpmd ... -d librte_mempool_uvtd.so --mbuf-pool-ops-name uvtd -- ...
 *
 * What it does:
 *   - Objects are kept in an rte_ring (multi-producer, multi-consumer), as
 *     DPDK's ring_mp_mc ops keep them.
 *   - The first pool starts uvtd (rte_eal_init has run by then) from the
 *     environment variable UVTD_ARGS, opens the device, creates one domain
 *     and attaches the device to it. The last pool freed stops it again.
 *   - populate maps every memory chunk DPDK hands the pool into that domain
 *     at an IOVA uvtd chooses (uvtd_map), and gives the objects that IOVA:
 *     an object's iova (and so an mbuf's buf_iova) is the address the device
 *     behind the unit must use. free unmaps the pool's chunks.
 *   - Telemetry: /uvtd/mempool (the plugin's state) and
 *     /uvtd/mempool,<pool> (chunks, and a check of every object's iova
 *     against uvtd's mapping and, on an emulated unit, against a
 *     translation by the unit itself).
 *
 * UVTD_ARGS: uvtd_init()'s keys (uvtd.h; policy= is the domain's policy)
 * plus the plugin's own, which are taken out before uvtd_init() sees them:
 *   rid=<BB:DD.F>|<number>   the device, by requester id, on an emulated
 *                            unit (default 01:00.0)
 *   unit=<n>                 the unit of rid= (default 0)
 *   pci=<[SSSS:]BB:DD.F>     the device by PCI address (with dmar=)
 * Default UVTD_ARGS: "emu=qemu-cm-off"; a UVTD_ARGS that names no unit
 * (no emu= nor dmar=) gets emu=qemu-cm-off in front.
 *
 * Errors: a failed start or map fails the pool's creation with one log line
 * (log type uvtd.mempool) and nothing left mapped; the application then
 * reports the failed pool creation itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "uvtd.h"
#include "uvtd_vtd_ops.h"
#include "vtdemu.h"

RTE_LOG_REGISTER(uvtd_mempool_logtype, uvtd.mempool, NOTICE);
#define MP_LOG(level, fmt, ...)                                               \
	rte_log(RTE_LOG_##level, uvtd_mempool_logtype,                        \
		"uvtd.mempool: " fmt "\n", ##__VA_ARGS__)

#define MP_DEFAULT_ARGS "emu=qemu-cm-off"
#define MP_DEFAULT_RID  0x0100          /* 01:00.0, where a NIC usually sits */
#define MP_ARGS_MAX     512
#define MP_TEL_CHUNKS   64              /* chunks listed by telemetry */

/* One memory chunk of a pool, as mapped: [va, va + len) at iova; phys is
 * what uvtd_map() was given (DPDK's IOVA of va: the physical address with
 * IOVA as PA, va itself with IOVA as VA). va and len are the chunk rounded
 * out to 4 KiB pages, the unit's granule. */
struct mp_chunk {
	uintptr_t va;
	uint64_t len;
	uint64_t phys;
	uint64_t iova;
	unsigned int objs;
};

/* mp->pool_data. The ring comes first: it is all the fast path needs. In
 * DPDK memory, so that a secondary process's get/put see it. */
struct mp_pool {
	struct rte_ring *ring;
	struct rte_mempool *mp;
	TAILQ_ENTRY(mp_pool) next;      /* [L] */
	struct mp_chunk *chunks;        /* [L] rte_malloc'd */
	unsigned int nchunks, cap;      /* [L] */
};

/* The plugin's process state. [L]: under lock. */
static struct {
	pthread_mutex_t lock;
	bool up;                        /* [L] device attached to dom */
	bool own_service;               /* [L] we called uvtd_init() */
	int dev, dom;                   /* [L] */
	unsigned int unit;              /* [L] */
	int rid;                        /* [L] -1 when opened by PCI address */
	char pci[32];                   /* [L] */
	char uvtd_args[MP_ARGS_MAX];    /* [L] what uvtd_init() was given */
	unsigned int npools;            /* [L] */
	TAILQ_HEAD(, mp_pool) pools;    /* [L] */
} mps = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.dev = -1,
	.dom = -1,
	.rid = -1,
	.pools = TAILQ_HEAD_INITIALIZER(mps.pools),
};

/* "BB:DD.F" or a number (0x100); -1 if neither. */
static int parse_rid(const char *v)
{
	unsigned int b, d, f;
	char *end;
	unsigned long x;
	int n = 0;

	if (sscanf(v, "%x:%x.%x%n", &b, &d, &f, &n) == 3 && v[n] == '\0')
		return (b <= 0xff && d <= 0x1f && f <= 7) ?
		       (int)(b << 8 | d << 3 | f) : -1;
	errno = 0;
	x = strtoul(v, &end, 0);
	if (errno || end == v || *end != '\0' || x > 0xffff)
		return -1;
	return (int)x;
}

/* Splits UVTD_ARGS into the plugin's keys and uvtd_init()'s string. Every
 * key the plugin does not know goes to uvtd_init(), which refuses unknown
 * ones. */
static int split_args(const char *all, char *svc, size_t svclen,
		      unsigned int *unit, int *rid, char *pci, size_t pcilen)
{
	char buf[MP_ARGS_MAX], *save = NULL;
	size_t used = 0;
	bool has_unit = false;

	if (strlen(all) >= sizeof(buf)) {
		MP_LOG(ERR, "UVTD_ARGS is longer than %zu characters",
		       sizeof(buf) - 1);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", all);
	svc[0] = '\0';
	for (char *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		const char *v = strchr(tok, '=');

		v = v ? v + 1 : "";
		if (strncmp(tok, "rid=", 4) == 0) {
			*rid = parse_rid(v);
			if (*rid < 0) {
				MP_LOG(ERR, "UVTD_ARGS: rid=%s: expected "
				       "BB:DD.F or a number below 0x10000", v);
				return -EINVAL;
			}
		} else if (strncmp(tok, "unit=", 5) == 0) {
			char *end;
			unsigned long u;

			errno = 0;
			u = strtoul(v, &end, 0);
			if (errno || end == v || *end || u >= UVTD_MAX_UNITS) {
				MP_LOG(ERR, "UVTD_ARGS: unit=%s: expected "
				       "0..%d", v, UVTD_MAX_UNITS - 1);
				return -EINVAL;
			}
			*unit = (unsigned int)u;
		} else if (strncmp(tok, "pci=", 4) == 0) {
			if (*v == '\0' || strlen(v) >= pcilen) {
				MP_LOG(ERR, "UVTD_ARGS: pci=%s: expected "
				       "[SSSS:]BB:DD.F", v);
				return -EINVAL;
			}
			snprintf(pci, pcilen, "%s", v);
		} else {
			int n = snprintf(svc + used, svclen - used, "%s%s",
					 used ? "," : "", tok);

			if (n < 0 || (size_t)n >= svclen - used)
				return -EINVAL;
			used += (size_t)n;
			if (strncmp(tok, "emu=", 4) == 0 ||
			    strncmp(tok, "dmar=", 5) == 0)
				has_unit = true;
		}
	}
	/* No unit named ("policy=strict" alone): the emulated default, not
	 * uvtd_init()'s own default preset. */
	if (!has_unit) {
		char rest[MP_ARGS_MAX];
		int n;

		snprintf(rest, sizeof(rest), "%s", svc);
		n = snprintf(svc, svclen, "%s%s%s", MP_DEFAULT_ARGS,
			     rest[0] ? "," : "", rest);
		if (n < 0 || (size_t)n >= svclen)
			return -EINVAL;
	}
	return 0;
}

/* Undoes service_start(); called with the lock held. */
static void service_stop_locked(void)
{
	int rc;

	if (mps.dom >= 0 && mps.dev >= 0) {
		rc = uvtd_detach(mps.dom, mps.dev);
		if (rc)
			MP_LOG(ERR, "detach device %d: %s", mps.dev,
			       strerror(-rc));
	}
	if (mps.dom >= 0) {
		/* Unmaps (and flushes) whatever is still mapped. */
		rc = uvtd_domain_destroy(mps.dom);
		if (rc)
			MP_LOG(ERR, "destroy domain %d: %s", mps.dom,
			       strerror(-rc));
	}
	if (mps.dev >= 0)
		uvtd_dev_close(mps.dev);
	if (mps.own_service) {
		rc = uvtd_fini();
		if (rc)
			MP_LOG(ERR, "uvtd_fini: %s", strerror(-rc));
	}
	if (mps.up)
		MP_LOG(NOTICE, "no pool left: domain %d destroyed%s", mps.dom,
		       mps.own_service ? ", uvtd stopped" : "");
	mps.up = false;
	mps.own_service = false;
	mps.dev = -1;
	mps.dom = -1;
}

/* Starts uvtd (unless the application did), opens the device, creates the
 * domain and attaches the device. Lock held. */
static int service_start_locked(const char *pool)
{
	const char *env = getenv("UVTD_ARGS");
	const char *all = (env && *env) ? env : MP_DEFAULT_ARGS;
	struct uvtd_domain_conf conf;
	unsigned int unit = 0;
	int rid = MP_DEFAULT_RID;
	char pci[32] = "";
	int rc;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		MP_LOG(ERR, "pool %s: a uvtd pool is created by the primary "
		       "process only", pool);
		return -ENOTSUP;
	}
	rc = split_args(all, mps.uvtd_args, sizeof(mps.uvtd_args), &unit,
			&rid, pci, sizeof(pci));
	if (rc)
		goto fail_args;
	rc = uvtd_init(mps.uvtd_args);
	if (rc == -EALREADY) {
		/* The application started uvtd itself: use its units, and
		 * leave it running when the last pool goes. */
		MP_LOG(NOTICE, "uvtd already started by the application: "
		       "using it");
	} else if (rc) {
		goto fail_args;
	} else {
		mps.own_service = true;
	}
	if (pci[0]) {
		rc = uvtd_dev_open_pci(pci);
		rid = -1;
	} else {
		rc = uvtd_dev_open_rid(unit, (uint16_t)rid);
	}
	if (rc < 0) {
		MP_LOG(ERR, "pool %s: cannot open device %s (unit %u rid "
		       "%04x): %s", pool, pci[0] ? pci : "by rid", unit,
		       rid < 0 ? 0 : rid, strerror(-rc));
		goto fail;
	}
	mps.dev = rc;
	rc = uvtd_dev_unit(mps.dev);
	if (rc < 0)
		goto fail_step;
	uvtd_domain_conf_init(&conf);
	conf.unit = (unsigned int)rc;
	conf.policy = UVTD_POLICY_DEFAULT;      /* policy= in UVTD_ARGS */
	rc = uvtd_domain_create(&conf);
	if (rc < 0)
		goto fail_step;
	mps.dom = rc;
	rc = uvtd_attach(mps.dom, mps.dev);
	if (rc)
		goto fail_step;
	mps.unit = conf.unit;
	mps.rid = rid;
	snprintf(mps.pci, sizeof(mps.pci), "%s", pci);
	mps.up = true;
	MP_LOG(NOTICE, "uvtd started (\"%s\"): device %s%s%02x:%02x.%x on "
	       "unit %u, domain %d, policy %s", mps.uvtd_args,
	       pci[0] ? pci : "", pci[0] ? " " : "rid ",
	       rid < 0 ? 0 : rid >> 8, rid < 0 ? 0 : (rid >> 3) & 0x1f,
	       rid < 0 ? 0 : rid & 7, mps.unit, mps.dom,
	       uvtd_policy_name(uvtd_domain_policy(mps.dom)));
	return 0;

fail_step:
	MP_LOG(ERR, "pool %s: cannot set up the device's domain: %s", pool,
	       strerror(-rc));
fail:
	service_stop_locked();
	return rc;
fail_args:
	MP_LOG(ERR, "pool %s not created: uvtd_init(\"%s\") failed: %s "
	       "(check UVTD_ARGS)", pool, mps.uvtd_args, strerror(-rc));
	return rc;
}

/* ---------------------------------------------------------------------------
 * Mempool ops
 */

static int uvtd_mp_alloc(struct rte_mempool *mp)
{
	char name[RTE_RING_NAMESIZE];
	struct mp_pool *p;
	int rc;

	rc = snprintf(name, sizeof(name), "UV_%s", mp->name);
	if (rc < 0 || rc >= (int)sizeof(name)) {
		MP_LOG(ERR, "pool %s: name too long for its ring", mp->name);
		return -ENAMETOOLONG;
	}
	pthread_mutex_lock(&mps.lock);
	if (!mps.up) {
		rc = service_start_locked(mp->name);
		if (rc)
			goto out;
	}
	p = rte_zmalloc_socket("uvtd_mempool", sizeof(*p), RTE_CACHE_LINE_SIZE,
			       mp->socket_id);
	if (p == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Exactly mp->size objects: the ring can always take every object
	 * back (RING_F_EXACT_SZ; default multi-producer/consumer). */
	p->ring = rte_ring_create(name, mp->size, mp->socket_id,
				  RING_F_EXACT_SZ);
	if (p->ring == NULL) {
		rc = -rte_errno;
		rte_free(p);
		goto fail;
	}
	p->mp = mp;
	TAILQ_INSERT_TAIL(&mps.pools, p, next);
	mps.npools++;
	mp->pool_data = p;
	pthread_mutex_unlock(&mps.lock);
	return 0;
fail:
	MP_LOG(ERR, "pool %s: cannot create its ring: %s", mp->name,
	       strerror(-rc));
	if (mps.npools == 0)
		service_stop_locked();
out:
	pthread_mutex_unlock(&mps.lock);
	return rc;
}

/* Lock held. */
static void unmap_pool_locked(struct mp_pool *p)
{
	unsigned int failed = 0;

	for (unsigned int i = 0; i < p->nchunks; i++) {
		int rc = uvtd_unmap(mps.dom, p->chunks[i].iova,
				    p->chunks[i].len);

		if (rc) {
			MP_LOG(ERR, "pool %s: unmap iova 0x%" PRIx64 " len "
			       "0x%" PRIx64 ": %s", p->mp->name,
			       p->chunks[i].iova, p->chunks[i].len,
			       strerror(-rc));
			failed++;
		}
	}
	/* Under a lazy policy the invalidations are still queued: complete
	 * them now, so that no translation of this memory survives the pool
	 * (the memory goes back to DPDK's heap). */
	if (p->nchunks)
		uvtd_flush(mps.dom);
	MP_LOG(NOTICE, "pool %s: unmapped %u chunks%s", p->mp->name,
	       p->nchunks - failed, failed ? " (some failed, see above)" : "");
}

/* DPDK frees a pool's memory chunks before it calls this op
 * (rte_mempool_free: free_memchunks, then ops free), and there is no
 * public "depopulate" op: a device must be stopped before its pool is
 * freed, which DPDK requires anyway. */
static void uvtd_mp_free(struct rte_mempool *mp)
{
	struct mp_pool *p = mp->pool_data;

	if (p == NULL)          /* alloc failed: nothing to undo */
		return;
	pthread_mutex_lock(&mps.lock);
	TAILQ_REMOVE(&mps.pools, p, next);
	if (mps.up)
		unmap_pool_locked(p);
	rte_ring_free(p->ring);
	rte_free(p->chunks);
	rte_free(p);
	mp->pool_data = NULL;
	if (--mps.npools == 0)
		service_stop_locked();
	pthread_mutex_unlock(&mps.lock);
}

static int uvtd_mp_enqueue(struct rte_mempool *mp, void *const *objs,
			   unsigned int n)
{
	const struct mp_pool *p = mp->pool_data;

	return rte_ring_mp_enqueue_bulk(p->ring, objs, n, NULL) ? 0 : -ENOBUFS;
}

static int uvtd_mp_dequeue(struct rte_mempool *mp, void **objs, unsigned int n)
{
	const struct mp_pool *p = mp->pool_data;

	return rte_ring_mc_dequeue_bulk(p->ring, objs, n, NULL) ? 0 : -ENOENT;
}

static unsigned int uvtd_mp_get_count(const struct rte_mempool *mp)
{
	const struct mp_pool *p = mp->pool_data;

	return rte_ring_count(p->ring);
}

/*
 * Maps one chunk and lays objects out in it. A refusal returns 0 objects,
 * never a negative errno: rte_mempool_populate_iova() stores this op's
 * result in an unsigned count and treats only 0 as "no objects" (a negative
 * value would be taken as a count), and with 0 the pool's creation fails
 * with -ENOBUFS after DPDK has freed the chunk.
 */
static int uvtd_mp_populate(struct rte_mempool *mp, unsigned int max_objs,
			    void *vaddr, rte_iova_t iova, size_t len,
			    rte_mempool_populate_obj_cb_t *obj_cb,
			    void *obj_cb_arg)
{
	struct mp_pool *p = mp->pool_data;
	uintptr_t va = (uintptr_t)vaddr;
	uintptr_t va0 = RTE_ALIGN_FLOOR(va, UVTD_PAGE_SIZE);
	uint64_t map_len = RTE_ALIGN_CEIL(va + len, UVTD_PAGE_SIZE) - va0;
	uint64_t phys, uiova, obj_iova;
	int n, rc;

	if (iova == RTE_BAD_IOVA) {
		MP_LOG(ERR, "pool %s: a chunk at %p has no IOVA (a pool with "
		       "RTE_MEMPOOL_F_NO_IOVA_CONTIG?): it cannot be mapped "
		       "for DMA", mp->name, vaddr);
		return 0;
	}
	/* The unit maps 4 KiB pages: round the chunk out. Within a page the
	 * physical address runs with the virtual one, so the rounded range
	 * is still one IOVA-contiguous piece. The few bytes around the chunk
	 * in its first and last pages become reachable too (VFIO's rule as
	 * well: protection is per page). */
	phys = iova - (va - va0);
	pthread_mutex_lock(&mps.lock);
	if (!mps.up || p == NULL) {
		MP_LOG(ERR, "pool %s: populate before alloc", mp->name);
		n = 0;
		goto out;
	}
	if (p->nchunks == p->cap) {
		unsigned int cap = p->cap ? 2 * p->cap : 8;
		struct mp_chunk *c = rte_realloc(p->chunks, cap * sizeof(*c),
						 0);

		if (c == NULL) {
			MP_LOG(ERR, "pool %s: no memory for its chunk list",
			       mp->name);
			n = 0;
			goto out;
		}
		p->chunks = c;
		p->cap = cap;
	}
	rc = uvtd_map(mps.dom, phys, map_len, UVTD_PERM_RW, &uiova);
	if (rc) {
		MP_LOG(ERR, "pool %s: chunk at %p not used: uvtd_map(phys 0x%"
		       PRIx64 ", len 0x%" PRIx64 ") into domain %d failed: %s",
		       mp->name, vaddr, phys, map_len, mps.dom, strerror(-rc));
		n = 0;
		goto out;
	}
	/* The objects' iova is uvtd's: what the device behind the unit must
	 * put on the bus to reach them. */
	obj_iova = uiova + (va - va0);
#ifdef UVTD_MEMPOOL_PLANTED_BUG
	/* Test build only (test/testpmd): the bug the suite must catch, the
	 * objects keep DPDK's physical IOVA. */
	obj_iova = iova;
#endif
	n = rte_mempool_op_populate_helper(mp, 0, max_objs, vaddr, obj_iova,
					   len, obj_cb, obj_cb_arg);
	if (n <= 0) {
		/* DPDK drops a chunk that holds no object, without a free
		 * callback: its mapping must go now. */
		rc = uvtd_unmap(mps.dom, uiova, map_len);
		if (rc)
			MP_LOG(ERR, "pool %s: unmap of an empty chunk: %s",
			       mp->name, strerror(-rc));
		n = 0;
		goto out;
	}
	p->chunks[p->nchunks++] = (struct mp_chunk){
		.va = va0, .len = map_len, .phys = phys, .iova = uiova,
		.objs = (unsigned int)n,
	};
	MP_LOG(NOTICE, "pool %s: chunk %u va 0x%" PRIxPTR " len 0x%" PRIx64
	       " phys 0x%" PRIx64 " -> iova 0x%" PRIx64 " (%d objects)",
	       mp->name, p->nchunks - 1, va0, map_len, phys, uiova, n);
out:
	pthread_mutex_unlock(&mps.lock);
	return n;
}

static struct rte_mempool_ops uvtd_mempool_ops = {
	.name = "uvtd",
	.alloc = uvtd_mp_alloc,
	.free = uvtd_mp_free,
	.enqueue = uvtd_mp_enqueue,
	.dequeue = uvtd_mp_dequeue,
	.get_count = uvtd_mp_get_count,
	.populate = uvtd_mp_populate,
};

RTE_MEMPOOL_REGISTER_OPS(uvtd_mempool_ops);

/* ---------------------------------------------------------------------------
 * Telemetry (DPDK's telemetry thread; everything under the lock)
 */

static int tel_mempool_list(struct rte_tel_data *d)
{
	struct rte_tel_data *names = rte_tel_data_alloc();
	struct mp_pool *p;

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_int(d, "up", mps.up);
	rte_tel_data_add_dict_string(d, "uvtd_args", mps.uvtd_args);
	rte_tel_data_add_dict_int(d, "own_service", mps.own_service);
	rte_tel_data_add_dict_int(d, "domain", mps.dom);
	rte_tel_data_add_dict_int(d, "unit", (int)mps.unit);
	rte_tel_data_add_dict_int(d, "rid", mps.rid);
	rte_tel_data_add_dict_string(d, "pci", mps.pci);
	rte_tel_data_add_dict_string(d, "iova_plan", "uvtd");
	rte_tel_data_add_dict_int(d, "pools", (int)mps.npools);
	if (names == NULL)
		return 0;
	rte_tel_data_start_array(names, RTE_TEL_STRING_VAL);
	TAILQ_FOREACH(p, &mps.pools, next)
		rte_tel_data_add_array_string(names, p->mp->name);
	rte_tel_data_add_dict_container(d, "names", names, 0);
	return 0;
}

/* DPDK's IOVA of a virtual address (what uvtd_map() takes as phys): the
 * memseg's, as rte_mempool does; va itself with IOVA as VA. */
static uint64_t dpdk_iova(const void *va)
{
	const struct rte_memseg *ms;

	if (rte_eal_iova_mode() == RTE_IOVA_VA)
		return (uintptr_t)va;
	ms = rte_mem_virt2memseg(va, NULL);
	if (ms == NULL || ms->iova == RTE_BAD_IOVA)
		return RTE_BAD_IOVA;
	return ms->iova + RTE_PTR_DIFF(va, ms->addr);
}

struct obj_check {
	const struct mp_pool *p;
	struct vtdemu *emu;
	uint64_t objs, in_mapping, translated, translate_failed;
	char first_bad[RTE_TEL_MAX_STRING_LEN];
};

/* Keeps the first mismatch, for the report. */
#define BAD(c, ...)                                                           \
	do {                                                                  \
		if ((c)->first_bad[0] == '\0')                                \
			snprintf((c)->first_bad, sizeof((c)->first_bad),      \
				 __VA_ARGS__);                                \
	} while (0)

/* One object: its iova (from the object's header, as rte_pktmbuf_init
 * reads it for buf_iova) must be uvtd's mapping of its chunk at the same
 * offset, for its whole length; and, on an emulated unit, the unit must
 * translate its first and last byte, as the device, to the object's
 * memory. */
static void check_obj(struct rte_mempool *mp, void *opaque, void *obj,
		      unsigned int idx)
{
	struct obj_check *c = opaque;
	uint64_t oiova = rte_mempool_virt2iova(obj);
	uint64_t last = (uint64_t)mp->elt_size ? mp->elt_size - 1 : 0;
	uintptr_t va = (uintptr_t)obj;

	unsigned int i;

	RTE_SET_USED(idx);
	c->objs++;
	for (i = 0; i < c->p->nchunks; i++) {
		const struct mp_chunk *k = &c->p->chunks[i];

		if (va < k->va || va + last >= k->va + k->len)
			continue;
		if (oiova == k->iova + (va - k->va))
			c->in_mapping++;
		else
			BAD(c, "obj %p iova 0x%" PRIx64 ": mapped at 0x%"
			    PRIx64, obj, oiova, k->iova + (va - k->va));
		break;
	}
	if (i == c->p->nchunks)
		BAD(c, "obj %p lies in no mapped chunk", obj);
	if (c->emu) {
		uint64_t pa0 = 0, pa1 = 0;
		unsigned int rw = VTDEMU_ACCESS_READ | VTDEMU_ACCESS_WRITE;
		uint16_t sid = (uint16_t)mps.rid;

		if (vtdemu_translate(c->emu, sid, VTDEMU_NO_PASID, oiova, rw,
				     &pa0, NULL) ||
		    vtdemu_translate(c->emu, sid, VTDEMU_NO_PASID,
				     oiova + last, rw, &pa1, NULL)) {
			c->translate_failed++;
			BAD(c, "obj %p iova 0x%" PRIx64 ": the unit faults",
			    obj, oiova);
		} else if (pa0 == dpdk_iova(obj) &&
			   pa1 == dpdk_iova((const char *)obj + last)) {
			c->translated++;
		} else {
			BAD(c, "obj %p: the unit gives 0x%" PRIx64 ", memory "
			    "is at 0x%" PRIx64, obj, pa0, dpdk_iova(obj));
		}
	}
}

static int tel_mempool_pool(const char *name, struct rte_tel_data *d)
{
	struct obj_check c = { 0 };
	struct rte_tel_data *arr;
	struct mp_pool *p;
	uint64_t bytes = 0;

	TAILQ_FOREACH(p, &mps.pools, next)
		if (strcmp(p->mp->name, name) == 0)
			break;
	if (p == NULL)
		return -EINVAL;
	c.p = p;
	/* Only a device opened by requester id on an emulated unit can be
	 * translated here. */
	c.emu = mps.rid >= 0 ? uvtd_vtd_emu(mps.unit) : NULL;
	rte_mempool_obj_iter(p->mp, check_obj, &c);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", p->mp->name);
	rte_tel_data_add_dict_int(d, "domain", mps.dom);
	rte_tel_data_add_dict_u64(d, "size", p->mp->size);
	rte_tel_data_add_dict_u64(d, "elt_size", p->mp->elt_size);
	rte_tel_data_add_dict_u64(d, "mem_chunks", p->mp->nb_mem_chunks);
	rte_tel_data_add_dict_u64(d, "chunks_mapped", p->nchunks);
	for (unsigned int i = 0; i < p->nchunks; i++)
		bytes += p->chunks[i].len;
	rte_tel_data_add_dict_u64(d, "mapped_bytes", bytes);
	rte_tel_data_add_dict_u64(d, "objects", c.objs);
	rte_tel_data_add_dict_u64(d, "objects_in_mapping", c.in_mapping);
	rte_tel_data_add_dict_int(d, "unit_checked", c.emu != NULL);
	rte_tel_data_add_dict_u64(d, "objects_translated", c.translated);
	rte_tel_data_add_dict_u64(d, "objects_faulted", c.translate_failed);
	rte_tel_data_add_dict_string(d, "first_bad", c.first_bad);
	if (c.emu) {
		struct vtdemu_stats s;

		vtdemu_stats_get(c.emu, &s);
		rte_tel_data_add_dict_u64(d, "unit_stale_uses", s.stale_uses);
		rte_tel_data_add_dict_u64(d, "unit_translations",
					  s.translations);
	}
	arr = rte_tel_data_alloc();
	if (arr == NULL)
		return 0;
	rte_tel_data_start_array(arr, RTE_TEL_STRING_VAL);
	for (unsigned int i = 0; i < p->nchunks && i < MP_TEL_CHUNKS; i++) {
		char s[RTE_TEL_MAX_STRING_LEN];

		snprintf(s, sizeof(s), "va 0x%" PRIxPTR " len 0x%" PRIx64
			 " phys 0x%" PRIx64 " iova 0x%" PRIx64 " objs %u",
			 p->chunks[i].va, p->chunks[i].len, p->chunks[i].phys,
			 p->chunks[i].iova, p->chunks[i].objs);
		rte_tel_data_add_array_string(arr, s);
	}
	rte_tel_data_add_dict_container(d, "chunks", arr, 0);
	return 0;
}

static int tel_mempool(const char *cmd, const char *params,
		       struct rte_tel_data *d)
{
	int rc;

	RTE_SET_USED(cmd);
	pthread_mutex_lock(&mps.lock);
	if (params == NULL || *params == '\0')
		rc = tel_mempool_list(d);
	else
		rc = tel_mempool_pool(params, d);
	pthread_mutex_unlock(&mps.lock);
	return rc;
}

RTE_INIT(uvtd_mempool_telemetry)
{
	/* The help text must fit RTE_TEL_MAX_STRING_LEN (128), or the command
	 * is refused. */
	int rc = rte_telemetry_register_cmd("/uvtd/mempool", tel_mempool,
		"uvtd mempool plugin state; with a pool name, its chunks and "
		"an object iova check. Parameters: [string pool]");

	if (rc)
		MP_LOG(ERR, "telemetry /uvtd/mempool not registered: %s",
		       strerror(-rc));
}
