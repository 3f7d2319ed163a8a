#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Checks that vtd-perf produces a well-formed report; never its speed.

  check_report.py --exe VTD_PERF report [--expect-preset P] -- ARGS...
      runs VTD_PERF ARGS (which must include --json): exit 0, stdout one JSON
      document {"unit": {...}, "runs": [...]}, every run named, none failed,
      at least one ok, and every ok run with a positive rate.
  check_report.py --exe VTD_PERF table -- ARGS...
      runs VTD_PERF ARGS (the human table): exit 0, a row per run.
  check_report.py --exe VTD_PERF usage
      bad usage exits 2 with a message on stderr and nothing on stdout;
      --help exits 0 and explains every option.

Standard library only. Exit 0 when every check passes, 1 otherwise.
"""
import argparse
import json
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


def check_report(exe, args, expect_preset):
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
]

HELP_WORDS = ["--emu ", "--emu-cap", "--emu-ecap", "--list-presets", "--mode",
              "--duration", "--count", "--runs", "--json", "--progress",
              "--help", "--batch", "--no-stale-check", "--list-runs",
              "EAL", "Exit status"]


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
    ap.add_argument("--exe", required=True)
    ap.add_argument("mode", choices=["report", "table", "usage"])
    ap.add_argument("--expect-preset")
    a = ap.parse_args(argv[:sep])
    args = argv[sep + 1:]
    if a.mode == "report":
        check_report(a.exe, args, a.expect_preset)
    elif a.mode == "table":
        check_table(a.exe, args)
    else:
        check_usage(a.exe)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
