#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Suite 'testpmd': dpdk-testpmd with the uvtd mempool plugin.

Each case runs testpmd, unmodified, for a bounded time (timeout -s INT, then
KILL after a grace period) with net_null ports, loads the plugin with -d by
a bare name (LD_LIBRARY_PATH: EAL skips its world-writable check for a name
that does not resolve), queries telemetry while it forwards, and checks what
testpmd, the plugin's log and uvtd's telemetry say. Every case uses its own
--file-prefix; its runtime folder and hugepage files are removed afterwards,
also on failure. Only processes this script started are signalled, by PID.

Cases:
  default   UVTD_ARGS unset (emu=qemu-cm-off): the pool's every chunk is
            mapped once, every object's iova is uvtd's mapping and the
            emulated unit translates it to the object's memory, no fault,
            no stale use, packets forwarded, rc 0, all unmapped at exit.
  cm_strict UVTD_ARGS=emu=qemu-cm-on,policy=strict,rid=00:03.0: the same on
            a caching-mode unit, with another device and policy.
  bad_key   UVTD_ARGS with an unknown key: pool creation fails cleanly
            (plugin's message, testpmd's own, exit 1, no crash).
  bad_rid   UVTD_ARGS=rid=zz: the same for a plugin key.
  map_fail  an IOVA window too small for the pool: uvtd_map fails, the pool
            is refused cleanly and what was mapped is unmapped.
  planted   a build of the plugin whose populate gives the objects DPDK's
            physical IOVA instead of uvtd's: the checks of 'default' must
            catch it.

Usage: test_testpmd.py --plugin-dir DIR --planted-dir DIR [--case NAME]...
Exit: 0 passed, 1 failed, 77 skipped (no dpdk-testpmd).
"""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

TESTPMD = "/usr/bin/dpdk-testpmd"
TELEMETRY = "/usr/bin/dpdk-telemetry.py"
PYTHON = "/usr/bin/python3"
RUN_SECONDS = 8          # timeout -s INT after this
KILL_AFTER = 10          # then timeout sends KILL
DEADLINE = RUN_SECONDS + KILL_AFTER + 30   # our own last resort
POOL = "mb_pool_0"       # testpmd's pool on socket 0


def hugepage_dirs():
    with open("/proc/mounts") as f:
        return [l.split()[1] for l in f if l.split()[2] == "hugetlbfs"]


def free_hugepage_mb():
    try:
        with open("/proc/meminfo") as f:
            info = dict(l.split(":", 1) for l in f)
        return (int(info["HugePages_Free"].split()[0]) *
                int(info["Hugepagesize"].split()[0]) // 1024)
    except (OSError, KeyError, ValueError):
        return 0


def cleanup(prefix):
    """Removes what an EAL primary of this prefix leaves behind."""
    shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)
    for d in hugepage_dirs():
        for f in glob.glob(os.path.join(d, f"{prefix}map_*")):
            try:
                os.unlink(f)
            except OSError:
                pass


def leftovers(prefix):
    left = glob.glob(f"/var/run/dpdk/{prefix}")
    for d in hugepage_dirs():
        left += glob.glob(os.path.join(d, f"{prefix}map_*"))
    return left


def telemetry(prefix, cmds):
    """One dpdk-telemetry.py session; returns {command: answer}."""
    r = subprocess.run([PYTHON, TELEMETRY, "-f", prefix],
                       input="".join(c + "\n" for c in cmds),
                       capture_output=True, text=True, timeout=30, cwd="/")
    out = {}
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                d = json.loads(line)
            except ValueError:
                continue
            for k, v in d.items():
                # Commands with parameters answer under the bare name.
                out.setdefault(k, []).append(v)
    return out, r.stdout + r.stderr


class Run:
    def __init__(self, name, plugin_dir, uvtd_args, query):
        self.name = name
        self.prefix = f"uvtd-tpmd-{os.getpid()}-{name}"
        self.plugin_dir = plugin_dir
        self.uvtd_args = uvtd_args
        self.query = query
        self.lines = []
        self.rc = None
        self.tel = {}
        self.tel_raw = ""
        self.tel_error = None
        self.leftovers = []

    def command(self, mem_args):
        return (["timeout", "--preserve-status", "-s", "INT",
                 "-k", str(KILL_AFTER), str(RUN_SECONDS),
                 TESTPMD, "-l", "0-1", "--no-pci",
                 "--file-prefix", self.prefix] + mem_args +
                ["-d", "librte_mempool_uvtd.so",
                 "--mbuf-pool-ops-name", "uvtd",
                 "--vdev=net_null0", "--vdev=net_null1", "--",
                 "--forward-mode=io", "--stats-period", "1",
                 "--total-num-mbufs=8192"])

    def _reader(self, stream):
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def log_has(self, pattern):
        return any(re.search(pattern, l) for l in self.lines)

    def run(self, mem_args):
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = self.plugin_dir
        env.pop("UVTD_ARGS", None)
        if self.uvtd_args is not None:
            env["UVTD_ARGS"] = self.uvtd_args
        cleanup(self.prefix)
        cmd = self.command(mem_args)
        print(f"# {self.name}: cd / && LD_LIBRARY_PATH={self.plugin_dir} "
              + (f"UVTD_ARGS={self.uvtd_args} " if self.uvtd_args else "")
              + " ".join(cmd), flush=True)
        proc = subprocess.Popen(cmd, cwd="/", env=env, text=True,
                                errors="replace", stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        reader = threading.Thread(target=self._reader, args=(proc.stdout,))
        reader.start()
        start = time.monotonic()
        try:
            if self.query:
                self._query_while_forwarding(proc, start)
            try:
                self.rc = proc.wait(timeout=max(1, DEADLINE -
                                                (time.monotonic() - start)))
            except subprocess.TimeoutExpired:
                # Our last resort, on the PID we started (timeout(1)):
                # it forwards INT to testpmd; KILL ends it.
                proc.send_signal(signal.SIGINT)
                try:
                    self.rc = proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    self.rc = "killed"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(timeout=10)
            cleanup(self.prefix)
            self.leftovers = leftovers(self.prefix)
        return self

    def _query_while_forwarding(self, proc, start):
        # Forwarding has begun once testpmd printed its first statistics.
        while time.monotonic() - start < RUN_SECONDS - 1:
            if proc.poll() is not None:
                self.tel_error = "testpmd ended before telemetry was queried"
                return
            if self.log_has(r"^Port statistics") or \
               self.log_has(r"Rx-pps:"):
                break
            time.sleep(0.2)
        else:
            self.tel_error = "forwarding did not start in time"
            return
        time.sleep(0.5)
        cmds = ["/uvtd/mempool", f"/uvtd/mempool,{POOL}", "/uvtd/stats",
                "/uvtd/domains", "/uvtd/faults"]
        self.tel, self.tel_raw = telemetry(self.prefix, cmds)
        doms = self.tel.get("/uvtd/domains", [[]])[0] or []
        if len(doms) == 1:
            more, raw = telemetry(self.prefix, [f"/uvtd/domain,{doms[0]}"])
            self.tel.update(more)
            self.tel_raw += raw
        if proc.poll() is not None:
            self.tel_error = "testpmd ended while telemetry was queried"

    def dump(self):
        print(f"# --- {self.name}: rc={self.rc}, output (statistics lines "
              "left out):")
        for l in self.lines:
            if re.search(r"[RT]x-[pb]ps|\x1b\[", l):
                continue
            print("#   " + l)
        print(f"# --- {self.name}: telemetry:\n#   " +
              self.tel_raw.replace("\n", "\n#   "))


def accumulated(lines):
    """testpmd's final 'Accumulated forward statistics for all ports'."""
    for i, l in enumerate(lines):
        if "Accumulated forward statistics for all ports" in l:
            block = " ".join(lines[i + 1:i + 3])
            rx = re.search(r"RX-packets:\s+(\d+)", block)
            tx = re.search(r"TX-packets:\s+(\d+)", block)
            if rx and tx:
                return int(rx.group(1)), int(tx.group(1))
    return None


def check_forwarding_run(r, rid=0x0100):
    """Every check of a good run; returns the list of what failed."""
    bad = []

    def want(cond, what):
        if not cond:
            bad.append(what)

    def one(cmd):
        v = r.tel.get(cmd)
        return v[0] if v else None

    want(r.rc == 0, f"testpmd exit status {r.rc}, expected 0")
    want(not r.leftovers, f"left behind: {r.leftovers}")
    want(r.tel_error is None, f"telemetry: {r.tel_error}")
    want(r.log_has(r"uvtd\.mempool: uvtd started"), "no start line")
    fw = accumulated(r.lines)
    want(fw is not None and fw[0] > 0 and fw[1] > 0,
         f"forwarded packets (rx, tx) = {fw}")

    st = one("/uvtd/mempool")
    pool = None
    if isinstance(st, dict):
        want(st.get("up") == 1 and st.get("pools") == 1 and
             st.get("names") == [POOL], f"/uvtd/mempool: {st}")
        want(st.get("rid") == rid, f"device rid {st.get('rid')}, "
             f"expected {rid:#x}")
        # Answers to "/uvtd/mempool" and "/uvtd/mempool,<pool>" share a key.
        more = r.tel.get("/uvtd/mempool", [])
        pool = more[1] if len(more) > 1 else None
    want(isinstance(pool, dict), f"no /uvtd/mempool,{POOL} answer")
    if not isinstance(pool, dict):
        return bad
    chunks = pool["mem_chunks"]
    want(chunks >= 1 and pool["chunks_mapped"] == chunks,
         f"chunks mapped {pool['chunks_mapped']}, pool has {chunks}")
    want(pool["objects"] == pool["size"] == 8192,
         f"objects {pool['objects']} of {pool['size']}")
    # The objects' iova (an mbuf's buf_iova comes from it) is uvtd's IOVA of
    # the object, and the unit, asked as the device, reaches the object.
    want(pool["objects_in_mapping"] == pool["objects"],
         f"objects whose iova is uvtd's mapping: "
         f"{pool['objects_in_mapping']} of {pool['objects']} "
         f"(first: {pool['first_bad']})")
    want(pool["unit_checked"] == 1 and
         pool["objects_translated"] == pool["objects"],
         f"objects the unit translates to their memory: "
         f"{pool['objects_translated']} of {pool['objects']}, faulted "
         f"{pool['objects_faulted']} (first: {pool['first_bad']})")
    want(pool.get("unit_stale_uses") == 0,
         f"stale uses {pool.get('unit_stale_uses')}")

    s = one("/uvtd/stats") or {}
    want(s.get("maps") == chunks, f"uvtd maps {s.get('maps')}, chunks "
         f"{chunks}")
    want(s.get("map_bytes") == pool["mapped_bytes"],
         f"map_bytes {s.get('map_bytes')} != {pool['mapped_bytes']}")
    for k in ("unmaps", "rejected", "iqe", "ite", "ice", "timeouts"):
        want(s.get(k) == 0, f"/uvtd/stats {k} = {s.get(k)}")
    want(one("/uvtd/domains") == [0] or
         (isinstance(one("/uvtd/domains"), list) and
          len(one("/uvtd/domains")) == 1), "/uvtd/domains: "
         f"{one('/uvtd/domains')}")
    d = one("/uvtd/domain") or {}
    want(d.get("mappings") == chunks and
         d.get("mapped_bytes") == pool["mapped_bytes"] and
         d.get("devices") == 1, f"/uvtd/domain: {d}")
    f = one("/uvtd/faults") or {}
    want(f.get("total") == 0, f"faults: {f}")

    # The log's chunk lines and telemetry agree, and every chunk's IOVA is
    # inside the domain's uvtd window (not a physical address).
    logged = [tuple(int(x, 16) for x in m.groups()) for m in
              (re.search(r"chunk \d+ va (0x[0-9a-f]+) len (0x[0-9a-f]+) "
                         r"phys (0x[0-9a-f]+) -> iova (0x[0-9a-f]+)", l)
               for l in r.lines) if m]
    told = [tuple(int(x, 16) for x in m.groups()) for m in
            (re.search(r"va (0x[0-9a-f]+) len (0x[0-9a-f]+) phys "
                       r"(0x[0-9a-f]+) iova (0x[0-9a-f]+)", c)
             for c in pool.get("chunks", [])) if m]
    want(logged == told and len(told) == chunks,
         f"chunks logged {logged} vs telemetry {told}")
    base, size = d.get("iova_base", 0), d.get("iova_size", 0)
    for va, ln, phys, iova in told:
        want(base <= iova and iova + ln <= base + size,
             f"chunk iova {iova:#x}+{ln:#x} outside uvtd's window "
             f"[{base:#x}, +{size:#x})")
    want(r.log_has(rf"pool {POOL}: unmapped {chunks} chunks$"),
         "no 'unmapped N chunks' line at exit")
    want(r.log_has(r"no pool left: domain \d+ destroyed, uvtd stopped"),
         "uvtd not stopped at exit")
    return bad


def check_refused_run(r, plugin_msg):
    bad = []
    if not (isinstance(r.rc, int) and 0 < r.rc < 128):
        bad.append(f"exit status {r.rc}: expected a clean failure (1..127)")
    if not r.log_has(plugin_msg):
        bad.append(f"no plugin message /{plugin_msg}/")
    if not r.log_has(r"Creation of mbuf pool for socket 0 failed"):
        bad.append("no testpmd message about the pool")
    if r.log_has(r"Segmentation fault|Aborted|core dumped|PANIC"):
        bad.append("crashed")
    if r.leftovers:
        bad.append(f"left behind: {r.leftovers}")
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plugin-dir", required=True)
    ap.add_argument("--planted-dir", required=True)
    ap.add_argument("--case", action="append")
    a = ap.parse_args()
    # testpmd runs in / (see the module comment): absolute paths only.
    a.plugin_dir = os.path.abspath(a.plugin_dir)
    a.planted_dir = os.path.abspath(a.planted_dir)
    if not os.access(TESTPMD, os.X_OK) or not os.path.exists(TELEMETRY):
        print(f"SKIP: {TESTPMD} or {TELEMETRY} not installed")
        return 77
    # Hugepages (IOVA as PA) when there are enough, else --no-huge (IOVA as
    # VA; testpmd needs more mbuf memory there, 8192 mbufs fit in 256 MB).
    mem = [] if free_hugepage_mb() >= 64 else ["--no-huge", "-m", "256"]
    cases = a.case or ["default", "cm_strict", "bad_key", "bad_rid",
                       "map_fail", "planted"]
    failed = 0
    for name in cases:
        if name == "default":
            r = Run(name, a.plugin_dir, None, True).run(mem)
            bad = check_forwarding_run(r)
        elif name == "cm_strict":
            r = Run(name, a.plugin_dir,
                    "policy=strict,emu=qemu-cm-on,rid=00:03.0",
                    True).run(mem)
            bad = check_forwarding_run(r, rid=0x0018)
            d = (r.tel.get("/uvtd/domain") or [{}])[0]
            if d.get("policy") != "strict" or d.get("map_flush") != 1:
                bad.append(f"domain policy/map_flush: {d}")
        elif name == "bad_key":
            r = Run(name, a.plugin_dir, "emu=qemu-cm-off,bogus=1",
                    False).run(mem)
            bad = check_refused_run(
                r, r"uvtd\.mempool: pool mb_pool_0 not created: "
                   r"uvtd_init\(\"emu=qemu-cm-off,bogus=1\"\) failed")
            # uvtd's own line names the key it refused.
            if not r.log_has(r"uvtd: arguments .*bogus=1"):
                bad.append("no uvtd line about the bad key")
        elif name == "bad_rid":
            r = Run(name, a.plugin_dir, "rid=zz", False).run(mem)
            bad = check_refused_run(r, r"uvtd\.mempool: UVTD_ARGS: rid=zz")
        elif name == "map_fail":
            # An IOVA window of 1 MiB: the first chunk (under 1 MiB) maps,
            # the 2 MiB ones cannot. DPDK gets 0 objects for each refused
            # chunk and fails the pool; the mapped chunk must be unmapped.
            r = Run(name, a.plugin_dir, "emu=qemu-cm-off,iova_size=0x100000",
                    False).run(mem)
            bad = check_refused_run(
                r, r"uvtd\.mempool: pool mb_pool_0: chunk at 0x[0-9a-f]+ not "
                   r"used: uvtd_map\(.*failed: Cannot allocate memory")
            if not r.log_has(r"no pool left: domain \d+ destroyed, uvtd "
                             r"stopped"):
                bad.append("uvtd not stopped after the failed pool")
            mapped = sum(1 for l in r.lines if re.search(r" -> iova ", l))
            if not r.log_has(rf"pool {POOL}: unmapped {mapped} chunks$"):
                bad.append(f"{mapped} chunks mapped, not all unmapped")
        elif name == "planted":
            # The plugin built with UVTD_MEMPOOL_PLANTED_BUG: the objects
            # get DPDK's physical IOVA. The checks must catch exactly that.
            r = Run(name, a.planted_dir, None, True).run(mem)
            found = check_forwarding_run(r)
            caught = [b for b in found if b.startswith(
                ("objects whose iova is uvtd's mapping",
                 "objects the unit translates"))]
            bad = []
            if len(caught) != 2:
                bad.append("the planted bug (objects keep the physical "
                           f"IOVA) was not caught; checks said: {found}")
            else:
                print(f"# planted: caught as expected: {caught}")
        else:
            print(f"unknown case {name}")
            return 2
        if bad:
            failed += 1
            r.dump()
            for b in bad:
                print(f"#   FAIL: {b}")
            print(f"not ok - {name}")
        else:
            print(f"ok - {name}")
        sys.stdout.flush()
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
