#!/usr/bin/env bash
# dpdk-testpmd, unmodified, with uvtd: the "uvtd" mempool ops
# (drivers/mempool/uvtd, docs/testpmd.md) map every mbuf pool chunk into a
# uvtd domain on the emulated VT-d unit, and the mbufs carry uvtd's IOVAs.
#
#   examples/testpmd-uvtd.sh [build-dir] [seconds]      (default: build, 5)
#   UVTD_ARGS="emu=qemu-cm-on,policy=strict,rid=00:03.0" examples/testpmd-uvtd.sh
#
# Forwards between two net_null ports for <seconds>, asks uvtd's telemetry
# what it mapped while testpmd runs, then stops testpmd with SIGINT (through
# timeout) and removes its runtime folder and hugepage files.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$top/build}" 2>/dev/null && pwd) ||
    { echo "no build folder ${1:-$top/build}: run devtools/setup" >&2; exit 1; }
secs=${2:-5}
plugin_dir=$build/drivers/mempool/uvtd
[ -f "$plugin_dir/librte_mempool_uvtd.so" ] ||
    { echo "no $plugin_dir/librte_mempool_uvtd.so: ninja -C $build" >&2; exit 1; }
prefix=uvtd-example-$$
log=$(mktemp)

cleanup() {
    # Only what this script started: its testpmd (by PID) and its prefix.
    if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then
        kill -INT "$pid" 2>/dev/null; sleep 2; kill -KILL "$pid" 2>/dev/null
    fi
    rm -rf "/var/run/dpdk/$prefix" /dev/hugepages/"$prefix"map_* "$log"
}
trap cleanup EXIT

# A bare -d name resolved through LD_LIBRARY_PATH from /: EAL then skips its
# world-writable-directory check (which refuses a path under such a folder).
# --mbuf-pool-ops-name is an EAL option (before --). 8192 mbufs fit in
# 128 MiB of hugepages.
cd / && LD_LIBRARY_PATH=$plugin_dir \
    timeout --preserve-status -s INT -k 10 "$secs" \
    dpdk-testpmd -l 0-1 --no-pci --file-prefix "$prefix" \
        -d librte_mempool_uvtd.so --mbuf-pool-ops-name uvtd \
        --vdev=net_null0 --vdev=net_null1 -- \
        --forward-mode=io --stats-period 1 --total-num-mbufs=8192 \
    >"$log" 2>&1 &
pid=$!

# Ask telemetry once forwarding runs (testpmd's first statistics).
for _ in $(seq 1 $((secs * 5))); do
    grep -q "Port statistics" "$log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
done
if kill -0 "$pid" 2>/dev/null; then
    echo "== telemetry (dpdk-telemetry.py -f $prefix) while testpmd forwards:"
    printf '/uvtd/mempool\n/uvtd/mempool,mb_pool_0\n/uvtd/stats\n/uvtd/domain,0\n/uvtd/faults\n' |
        /usr/bin/python3 /usr/bin/dpdk-telemetry.py -f "$prefix"
fi
wait "$pid"
rc=$?
pid=
echo "== testpmd (exit status $rc): the plugin's log and the final statistics:"
grep -E "uvtd|Cause:" "$log"
grep -A2 "Accumulated forward statistics" "$log"
exit $rc
