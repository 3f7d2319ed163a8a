#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Checks that vtd-perf produces a well-formed report; never its speed.

  check_report.py --exe VTD_PERF report [--expect-preset P] [--default] -- ARGS...
      runs VTD_PERF ARGS (which must include --json): exit 0, stdout one JSON
      document {"unit": {...}, "runs": [...]}, every run named, none failed,
      at least one ok, every ok run with a positive rate, and every run with
      the keys other tools read (REQUIRED). --default adds what the default
      report must show (check_default): both caching modes, every policy,
      no stale use under strict and batched, no descriptor on a CM=0 map,
      no range kept by lazy with domain-selective flushes.
  check_report.py --exe VTD_PERF planted -- ARGS...
      runs VTD_PERF ARGS with --plant-skip-invalidation: exit 1, and every
      strict or batched service run failed with stale uses (the check in
      vtd-perf catches a skipped invalidation).
  check_report.py selftest
      feeds check_default a good document and doctored ones: it must pass
      the first and flag each of the others (the checks can fail).
  check_report.py --exe VTD_PERF table -- ARGS...
      runs VTD_PERF ARGS (the human table): exit 0, a row per run.
  check_report.py --exe VTD_PERF progress -- ARGS...
      runs VTD_PERF ARGS (one run of a few seconds with --progress and
      --json): exit 0, a valid report on stdout, and on stderr at least one
      status line per whole second of the run, each naming it and giving a
      rate ("<run>: <n> s of <budget>, <rate> <unit>/s").
  check_report.py --exe VTD_PERF usage
      bad usage exits 2 with a message on stderr and nothing on stdout;
      --help exits 0 and explains every option.

Standard library only. Exit 0 when every check passes, 1 otherwise.
"""
import argparse
import json
import os
import subprocess
import sys

TIMEOUT = 300
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, file=sys.stderr)
    return cond


def run(exe, args):
    p = subprocess.run([exe] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TIMEOUT,
                       universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


REQUIRED = ["name", "policy", "caching_mode", "lcores", "page_size", "burst",
            "pairs", "pairs_per_sec", "map_ns_p50", "map_ns_p99",
            "unmap_ns_p50", "unmap_ns_p99", "descriptors_per_pair",
            "waits_per_pair", "iqt_writes_per_pair", "psi_per_pair",
            "dsi_per_pair", "modelled_ns_per_pair", "stale_uses"]
POLICIES = {"strict", "batched", "lazy", "auto"}


def check_default(runs):
    """What the default report must show; returns the failures found."""
    bad = []
    svc = [r for r in runs if isinstance(r, dict) and r.get("layer") == "service"
           and r.get("status") == "ok"]
    pairs = [r for r in runs if isinstance(r, dict)
             and r.get("layer") in ("driver", "service") and r.get("status") == "ok"]
    for r in runs:
        for key in REQUIRED:
            if not isinstance(r, dict) or key not in r:
                bad.append("run %s has no key %s" % (r.get("name") if
                                                      isinstance(r, dict) else r, key))
    for r in pairs:
        for key in REQUIRED:
            if key not in ("name", "policy", "caching_mode", "modelled_ns_per_pair",
                           "stale_uses") and not is_num(r.get(key)):
                bad.append("run %s: %s is %r, not a number" % (r["name"], key,
                                                               r.get(key)))
    modes = {r.get("caching_mode") for r in svc}
    if modes != {True, False}:
        bad.append("service runs with caching modes %s, expected off and on"
                   % sorted(modes, key=str))
    for cm in (False, True):
        pols = {r.get("policy") for r in svc if r.get("caching_mode") == cm}
        if not POLICIES <= pols:
            bad.append("CM=%d: policies %s, expected %s" % (cm, sorted(pols, key=str),
                                                            sorted(POLICIES)))
    # Stale uses count whatever the status (a failed run still reports).
    for r in runs:
        if not isinstance(r, dict) or r.get("layer") not in ("driver", "service"):
            continue
        if r.get("status") == "skipped":
            continue
        if r.get("policy") in ("strict", "batched", "none") and r.get("stale_uses") != 0:
            bad.append("run %s (%s): stale_uses %r, expected 0" %
                       (r["name"], r.get("policy"), r.get("stale_uses")))
    cm0 = [r for r in svc if r.get("caching_mode") is False]
    if not cm0:
        bad.append("no CM=0 service run")
    for r in cm0:
        if r.get("descriptors_per_map") != 0:
            bad.append("run %s: CM=0 map issues %r descriptors, expected 0" %
                       (r["name"], r.get("descriptors_per_map")))
    dsi = [r for r in svc if "forced" in str(r.get("lazy_flush", ""))]
    if not dsi:
        bad.append("no lazy run with forced domain-selective flushes")
    for r in dsi:
        if r.get("ranges_per_pair") != 0:
            bad.append("run %s: lazy+DSI keeps %r ranges per pair, expected 0"
                       % (r["name"], r.get("ranges_per_pair")))
    # The counter has teeth: lazy that chose page-selective flushes under
    # caching mode (with resident pages) does keep ranges.
    psi = [r for r in svc if r.get("name") == "svc-lazy-cm1"]
    for r in psi:
        if not (is_num(r.get("ranges_per_pair")) and r["ranges_per_pair"] > 0):
            bad.append("run %s: lazy+PSI keeps %r ranges per pair, expected > 0"
                       % (r["name"], r.get("ranges_per_pair")))
    return bad


def check_report(exe, args, expect_preset, default=False):
    rc, out, err = run(exe, args)
    sys.stderr.write(err)
    check(rc == 0, "exit status %d, expected 0" % rc)
    try:
        doc = json.loads(out)
    except ValueError as e:
        check(False, "stdout is not one JSON document: %s\n%s" % (e, out[:2000]))
        return
    if not check(isinstance(doc, dict), "top level is not an object"):
        return
    check(set(doc) == {"unit", "runs"},
          "top-level keys are %s, expected unit and runs" % sorted(doc))
    unit = doc.get("unit")
    if check(isinstance(unit, dict), "unit is not an object"):
        for key in ("preset", "ver", "cap", "ecap"):
            check(isinstance(unit.get(key), str), "unit.%s is not a string" % key)
        for key in ("cap", "ecap"):
            check(str(unit.get(key, "")).startswith("0x"),
                  "unit.%s is not hexadecimal" % key)
        for key in ("caching_mode", "psi", "scalable", "queued_invalidation"):
            check(isinstance(unit.get(key), bool), "unit.%s is not a boolean" % key)
        check(is_num(unit.get("mamv")), "unit.mamv is not a number")
        check(unit.get("mode") in ("inline", "threaded"), "unit.mode is wrong")
        if expect_preset:
            check(unit.get("preset") == expect_preset,
                  "unit.preset is %r, expected %r" % (unit.get("preset"),
                                                      expect_preset))
    runs = doc.get("runs")
    if not check(isinstance(runs, list) and runs, "runs is not a non-empty list"):
        return
    ok = 0
    names = set()
    for i, r in enumerate(runs):
        if not check(isinstance(r, dict), "runs[%d] is not an object" % i):
            continue
        name = r.get("name")
        check(isinstance(name, str) and name, "runs[%d] has no name" % i)
        check(name not in names, "run %s appears twice" % name)
        names.add(name)
        status = r.get("status")
        check(status in ("ok", "skipped"),
              "run %s: status %r (%s)" % (name, status, r.get("reason", "")))
        if status != "ok":
            check(isinstance(r.get("reason"), str) and r["reason"],
                  "run %s is %s without a reason" % (name, status))
            continue
        ok += 1
        rate = r.get("ops_per_sec")
        check(is_num(rate) and rate > 0,
              "run %s: ops_per_sec %r is not a positive number" % (name, rate))
        check(is_num(r.get("ops")) and r["ops"] > 0,
              "run %s: ops %r is not positive" % (name, r.get("ops")))
        check(isinstance(r.get("op"), str), "run %s: no op" % name)
        emu = r.get("emu")
        check(isinstance(emu, dict), "run %s: no emu statistics object" % name)
    check(ok > 0, "no run completed")
    for r in runs:
        for key in REQUIRED:
            check(isinstance(r, dict) and key in r, "run %s has no key %s" %
                  (r.get("name") if isinstance(r, dict) else r, key))
    if default:
        for msg in check_default(runs):
            check(False, msg)


def check_planted(exe, args):
    rc, out, err = run(exe, args + ["--plant-skip-invalidation"])
    check(rc == 1, "planted bug: exit status %d, expected 1" % rc)
    try:
        runs = json.loads(out)["runs"]
    except (ValueError, KeyError) as e:
        check(False, "planted bug: no JSON report: %s" % e)
        return
    caught = 0
    for r in runs:
        if r.get("layer") != "service" or r.get("policy") not in ("strict", "batched"):
            continue
        ok = r.get("status") == "failed" and "stale" in r.get("reason", "")
        check(ok, "planted bug: run %s is %s (%s), expected failed with stale uses"
              % (r.get("name"), r.get("status"), r.get("reason", "")))
        caught += ok
    check(caught > 0, "planted bug: no strict or batched run to catch it")
    # check_default flags the same report too.
    check(any("stale_uses" in m for m in check_default(runs)),
          "planted bug: check_default does not flag the stale uses")


def selftest():
    def run_(name, policy, cm, **kw):
        r = {k: 1 for k in REQUIRED}
        r.update(name=name, layer="service", status="ok", policy=policy,
                 caching_mode=cm, stale_uses=0, descriptors_per_map=0 if not cm else 2,
                 ranges_per_pair=0)
        r.update(kw)
        return r
    good = []
    for cm in (False, True):
        s = "cm%d" % cm
        good += [run_("svc-strict-" + s, "strict", cm),
                 run_("svc-batched-" + s, "batched", cm),
                 run_("svc-lazy-" + s, "lazy", cm, stale_uses=5,
                      ranges_per_pair=1.0 if cm else 0),
                 run_("svc-lazy-dsi-" + s, "lazy", cm, lazy_flush="domain-selective (forced)"),
                 run_("svc-auto-" + s, "auto", cm)]
    check(check_default(good) == [], "selftest: a good document is flagged: %s"
          % check_default(good))
    doctored = [
        ("a strict run with a stale use", lambda d: d[0].update(stale_uses=1)),
        ("a batched run with a stale use", lambda d: d[6].update(stale_uses=2)),
        ("a missing key", lambda d: d[3].pop("iqt_writes_per_pair")),
        ("a CM=0 map with descriptors", lambda d: d[4].update(descriptors_per_map=0.5)),
        ("lazy+DSI keeping ranges", lambda d: d[8].update(ranges_per_pair=0.2)),
        ("lazy+PSI keeping none", lambda d: d[7].update(ranges_per_pair=0)),
        ("no CM=1 run", lambda d: [r.update(caching_mode=False) for r in d]),
        ("no auto run", lambda d: [r.update(policy="lazy") for r in d
                                   if r["policy"] == "auto"]),
    ]
    for what, mutate in doctored:
        d = json.loads(json.dumps(good))
        mutate(d)
        check(check_default(d) != [], "selftest: %s is not flagged" % what)


def check_table(exe, args):
    rc, out, err = run(exe, args)
    sys.stderr.write(err)
    check(rc == 0, "exit status %d, expected 0" % rc)
    check("ops/s" in out, "no table header in:\n" + out)
    rc2, names, _ = run(exe, ["--list-runs"])
    check(rc2 == 0, "--list-runs exit status %d" % rc2)
    for line in names.splitlines():
        name = line.split()[0] if line.split() else ""
        check(any(row.startswith(name + " ") for row in out.splitlines()),
              "no table row for run %s" % name)


BAD = [
    (["--", "--emu", "nosuch"], "nosuch"),
    (["--emu", "nosuch"], "nosuch"),
    (["--", "--emu-cap", "0"], "SAGAW"),
    (["--", "--emu-cap", "xyz"], "hexadecimal"),
    (["--", "--mode", "sideways"], "inline"),
    (["--", "--duration", "0"], "--duration"),
    (["--", "--count", "-5"], "--count"),
    (["--", "--batch", "100000"], "--batch"),
    (["--", "--runs", "translate-hit,nosuch"], "nosuch"),
    (["--", "--no-such-option"], "unknown option"),
    (["--", "--emu"], "needs a value"),
    (["--", "stray"], "unexpected argument"),
    (["--", "--burst", "0"], "--burst"),
    (["--", "--pairs", "0"], "--pairs"),
    (["--", "--lcores", "0"], "--lcores"),
    (["--", "--page-size", "3k"], "--page-size"),
    (["--", "--dev", "00:03.0"], "--dmar"),
    # No DMAR table on the project's hosts: refused before EAL or /dev/mem;
    # where the firmware has one, --dmar without --dev is refused instead.
    (["--", "--dmar", "sys"], "DMAR table" if not os.path.exists(
        "/sys/firmware/acpi/tables/DMAR") else "--dev"),
]

HELP_WORDS = ["--emu ", "--emu-cap", "--emu-ecap", "--list-presets", "--mode",
              "--duration", "--count", "--runs", "--json", "--progress",
              "--help", "--batch", "--no-stale-check", "--list-runs",
              "--pairs", "--burst", "--lcores", "--page-size", "--resident",
              "--sample-every", "--dmar", "--dev", "--plant-skip-invalidation",
              "--split-domains",
              "EAL", "Exit status"]


def check_progress(exe, args):
    rc, out, err = run(exe, args)
    check(rc == 0, "exit status %d, expected 0; stderr:\n%s" % (rc, err))
    try:
        runs = json.loads(out)["runs"]
    except (ValueError, KeyError) as e:
        check(False, "no JSON report: %s" % e)
        return
    check(len(runs) == 1, "%d runs, expected one" % len(runs))
    name = runs[0].get("name", "?") if runs else "?"
    secs = float(args[args.index("--duration") + 1])
    lines = [l for l in err.splitlines()
             if l.startswith(name + ": ") and " s of " in l and "/s" in l]
    # One a second; a stalled moment may skip one (never repeat one), so
    # a 3 s run needs at least one, each naming a later second than the
    # one before, none past the run.
    check(len(lines) >= max(1, int(secs) - 2),
          "%d status lines for a %.1f s run of %s (one a second):\n%s" %
          (len(lines), secs, name, err))
    seconds = [int(l.split(": ")[1].split(" s")[0]) for l in lines]
    check(all(a < b for a, b in zip(seconds, seconds[1:])) and
          all(1 <= x <= secs for x in seconds),
          "status lines out of order or out of the run: %s" % seconds)


def check_usage(exe):
    for args, word in BAD:
        rc, out, err = run(exe, args)
        check(rc == 2, "%s: exit status %d, expected 2" % (" ".join(args), rc))
        check(word in err, "%s: stderr does not mention %r: %r" %
              (" ".join(args), word, err))
        check(out == "", "%s: printed on stdout: %r" % (" ".join(args), out))
    rc, out, err = run(exe, ["--help"])
    check(rc == 0, "--help: exit status %d" % rc)
    for word in HELP_WORDS:
        check(word in out, "--help does not explain %s" % word)
    rc, out, err = run(exe, ["--list-presets"])
    check(rc == 0 and "qemu-cm-on" in out and "server" in out,
          "--list-presets does not list the presets")


def main():
    # Checker options before the first "--"; vtd-perf's arguments after it
    # (they may hold a "--" of their own, which argparse would swallow).
    argv = sys.argv[1:]
    sep = argv.index("--") if "--" in argv else len(argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["report", "table", "usage", "planted",
                                     "selftest", "progress"])
    ap.add_argument("--exe")
    ap.add_argument("--expect-preset")
    ap.add_argument("--default", action="store_true")
    a = ap.parse_args(argv[:sep])
    args = argv[sep + 1:]
    if a.mode != "selftest" and not a.exe:
        ap.error("--exe is required")
    if a.mode == "report":
        check_report(a.exe, args, a.expect_preset, a.default)
    elif a.mode == "planted":
        check_planted(a.exe, args)
    elif a.mode == "selftest":
        selftest()
    elif a.mode == "table":
        check_table(a.exe, args)
    elif a.mode == "progress":
        check_progress(a.exe, args)
    else:
        check_usage(a.exe)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
