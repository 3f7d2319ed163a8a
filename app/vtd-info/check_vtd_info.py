#!/usr/bin/python3
"""Checks vtd-info's output against what it must report (suite unit).

usage: check_vtd_info.py VTD_INFO [QEMU_DMAR_AML]

- Every emulator preset: --emu PRESET --json reports the CAP/ECAP that
  --list-presets gives for it, and the QEMU presets the values measured on
  QEMU 7.2 (shared/docs/facts.md).
- Decoded fields agree with the raw registers (a field decoded from the wrong
  bits fails here).
- A DMAR table (QEMU's, compiled by iasl): one unit at 0xfed90000.
- Bad usage exits 2 with a message on stderr and nothing on stdout; a missing
  table exits 1.
"""
import json
import subprocess
import sys

# VER/CAP/ECAP that QEMU 7.2 reports (facts.md), by our preset name.
QEMU_FACTS = {
    "qemu-cm-on": (0x00D2008C22260286, 0x0000000000000F42),
    "qemu-cm-off": (0x00D2008C22260206, 0x0000000000000F42),
    "qemu-cm-on-aw48": (0x00D2008C222F0686, 0x0000000000000F42),
    "qemu-cm-on-devtlb": (0x00D2008C22260286, 0x0000000000000F46),
    "qemu-cm-on-scalable": (0x00D2008C22260286, 0x0000480080000F42),
    "qemu-cm-on-scalable-pasid": (0x00D2008C22260286, 0x0000490080000F42),
    "qemu-aw48-snoop": (0x00D2008C222F0606, 0x0000000000000FC2),
}

# (register, field, hi, lo): an independent statement of a few field
# positions (VT-d spec 11.4.2/11.4.3), to catch a decoder that reads the
# wrong bits.
FIELDS = [
    ("CAP", "ND", 2, 0), ("CAP", "CM", 7, 7), ("CAP", "SAGAW", 12, 8),
    ("CAP", "MGAW", 21, 16), ("CAP", "FRO", 33, 24), ("CAP", "PSI", 39, 39),
    ("CAP", "NFR", 47, 40), ("CAP", "MAMV", 53, 48),
    ("ECAP", "C", 0, 0), ("ECAP", "QI", 1, 1), ("ECAP", "DT", 2, 2),
    ("ECAP", "PT", 6, 6), ("ECAP", "SC", 7, 7), ("ECAP", "IRO", 17, 8),
    ("ECAP", "PASID", 40, 40), ("ECAP", "SMTS", 43, 43),
    ("ECAP", "SSTS", 46, 46), ("ECAP", "FSTS", 47, 47),
]

failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg)


def run(args):
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def field(value, hi, lo):
    return (value >> lo) & ((1 << (hi - lo + 1)) - 1)


def check_unit(label, unit, cap, ecap):
    regs = unit["registers"]
    if int(regs["CAP"], 16) != cap or int(regs["ECAP"], 16) != ecap:
        fail(f"{label}: CAP/ECAP {regs['CAP']}/{regs['ECAP']}, "
             f"expected {cap:#x}/{ecap:#x}")
    for reg, name, hi, lo in FIELDS:
        raw = cap if reg == "CAP" else ecap
        got = unit[reg].get(name)
        if got != field(raw, hi, lo):
            fail(f"{label}: {reg}.{name} decoded as {got}, "
                 f"bits {hi}:{lo} hold {field(raw, hi, lo)}")


def main():
    vtd_info = sys.argv[1]
    aml = sys.argv[2] if len(sys.argv) > 2 else None
    tests = 0

    r = run([vtd_info, "--list-presets", "--json"])
    presets = json.loads(r.stdout)["presets"]
    if len(presets) < 11:
        fail(f"only {len(presets)} presets listed")
    for p in presets:
        tests += 1
        r = run([vtd_info, "--emu", p["name"], "--json"])
        if r.returncode != 0:
            fail(f"--emu {p['name']}: exit {r.returncode}: {r.stderr.strip()}")
            continue
        unit = json.loads(r.stdout)["units"][0]
        check_unit(p["name"], unit, int(p["cap"], 16), int(p["ecap"], 16))
        if p["name"] in QEMU_FACTS:
            cap, ecap = QEMU_FACTS[p["name"]]
            check_unit(p["name"] + " (facts.md)", unit, cap, ecap)
        # A unit at reset: translation and QI off, no fault pending.
        if unit["GSTS"].get("TES") or unit["GSTS"].get("QIES"):
            fail(f"{p['name']}: GSTS not at reset: {unit['registers']['GSTS']}")
    missing = set(QEMU_FACTS) - {p["name"] for p in presets}
    if missing:
        fail(f"QEMU presets missing: {sorted(missing)}")

    # Explicit capabilities (any valid combination, not only presets).
    tests += 1
    r = run([vtd_info, "--emu-cap", "0x00D2008C22260206",
             "--emu-ecap", "0xF42", "--json"])
    if r.returncode != 0:
        fail(f"--emu-cap: exit {r.returncode}: {r.stderr.strip()}")
    else:
        check_unit("explicit", json.loads(r.stdout)["units"][0],
                   0x00D2008C22260206, 0xF42)

    if aml:
        tests += 1
        r = run([vtd_info, "--dmar", aml, "--json"])
        if r.returncode != 0:
            fail(f"--dmar {aml}: exit {r.returncode}: {r.stderr.strip()}")
        else:
            doc = json.loads(r.stdout)
            units = doc["units"]
            if len(units) != 1 or int(units[0]["base"], 16) != 0xfed90000:
                fail(f"QEMU DMAR: units {units}")
            if doc["dmar"]["haw"] != 39:
                fail(f"QEMU DMAR: haw {doc['dmar']['haw']}")
        r = run([vtd_info, "--dmar", aml])
        if r.returncode != 0 or "0xfed90000" not in r.stdout:
            fail("QEMU DMAR text output lacks the unit's base")

    bad = [
        ["--emu", "nosuch"],
        ["--emu-cap", "zz", "--emu-ecap", "0"],
        ["--emu-cap", "0x1"],
        ["--emu", "server", "--emu-cap", "1", "--emu-ecap", "1"],
        ["--emu", "server", "--regs"],
        ["--emu-cap", "0", "--emu-ecap", "0"],  # SAGAW 0: impossible
        ["--bogus"],
        ["extra"],
    ]
    for args in bad:
        tests += 1
        r = run([vtd_info] + args)
        if r.returncode != 2 or not r.stderr.strip() or r.stdout:
            fail(f"{args}: exit {r.returncode}, stderr {r.stderr!r}, "
                 f"stdout {r.stdout[:80]!r} (want 2, a message, no output)")
    tests += 1
    r = run([vtd_info, "--dmar", "/nonexistent/DMAR"])
    if r.returncode != 1 or "/nonexistent/DMAR" not in r.stderr:
        fail(f"missing table: exit {r.returncode}, {r.stderr!r}")
    tests += 1
    r = run([vtd_info, "--help"])
    for opt in ("--dmar", "--regs", "--emu", "--emu-cap", "--emu-ecap",
                "--emu-ver", "--list-presets", "--json"):
        if opt not in r.stdout:
            fail(f"--help does not mention {opt}")

    print(f"{tests - min(failures, tests)} passed, {min(failures, tests)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
