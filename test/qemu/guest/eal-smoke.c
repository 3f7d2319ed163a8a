/* SPDX-License-Identifier: BSD-3-Clause
 * eal-smoke: runs inside the QEMU guest (test/qemu/rig) and shows that a
 * DPDK program starts there the way the uvtd driver will need it: EAL up on
 * the guest's hugepages in IOVA-as-PA mode, and a memzone's IOVA equal to
 * the physical address the kernel's pagemap reports.
 *
 *   eal-smoke --no-pci --iova-mode=pa --file-prefix eal-smoke [other EAL args]
 *
 * Exit: 0 EAL initialised and IOVA == PA; 1 otherwise.
 */
#include "guest_util.h"

#include <inttypes.h>
#include <stdio.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_memory.h>
#include <rte_memzone.h>

int main(int argc, char **argv)
{
	const struct rte_memzone *mz;
	uint64_t pa;
	int ret = rte_eal_init(argc, argv), rc = 0;

	if (ret < 0) {
		fprintf(stderr, "eal-smoke: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	printf("eal-smoke: EAL up: iova mode %s, %u lcore(s), %" PRIu64 " MiB of memory\n",
	       rte_eal_iova_mode() == RTE_IOVA_PA ? "PA" : "VA", rte_lcore_count(),
	       (uint64_t)(rte_eal_get_physmem_size() >> 20));

	/* The memory the driver will give the unit (tables, queue) comes from
	 * memzones; on real hardware and in the guest its IOVA must be the
	 * physical address. */
	mz = rte_memzone_reserve_aligned("eal-smoke", 4096, SOCKET_ID_ANY,
					 RTE_MEMZONE_IOVA_CONTIG, 4096);
	if (mz == NULL) {
		fprintf(stderr, "eal-smoke: memzone: %s\n", rte_strerror(rte_errno));
		rc = 1;
	} else {
		pa = guest_virt_to_phys(mz->addr);
		printf("eal-smoke: memzone va %p iova 0x%" PRIx64 " pagemap pa 0x%" PRIx64 "\n",
		       mz->addr, (uint64_t)mz->iova, pa);
		if (rte_eal_iova_mode() != RTE_IOVA_PA || pa != mz->iova) {
			fprintf(stderr, "eal-smoke: IOVA is not the physical address\n");
			rc = 1;
		}
		rte_memzone_free(mz);
	}
	rte_eal_cleanup();
	return rc;
}
