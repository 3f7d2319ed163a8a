# Discovery scenario (busybox sh, run by test/qemu/rig -s): what QEMU's unit
# reports, read twice by independent code, compared with shared facts.md:
#   1. vtd-probe (test/qemu/guest/vtd-probe.c): its own minimal DMAR reader;
#   2. vtd-info --regs --json (app/vtd-info): the project's DMAR parser and
#      register decoder, the code uvtd itself uses.
# Arguments: VER CAP ECAP HAW, with CAP and ECAP as vtd-info prints them
# (0x and 16 lower-case hex digits).
ver=$1 cap=$2 ecap=$3 haw=$4
fail=0

vtd-probe --expect-ver "$ver" --expect-cap "$cap" --expect-ecap "$ecap" \
    --expect-te 0 || fail=1

json=$(vtd-info --regs --json) || { echo "discovery: vtd-info failed"; exit 1; }
echo "$json"
# A JSON key and its value as vtd-info writes them: "KEY": VALUE
expect() {
    case "$json" in
    *"\"$1\": $2"*) echo "discovery: vtd-info $1 = $2: ok" ;;
    *) echo "discovery: vtd-info: expected \"$1\": $2"; fail=1 ;;
    esac
}
expect haw "$haw"
expect VER "\"$ver\""
expect CAP "\"$cap\""
expect ECAP "\"$ecap\""
# Translation off (the kernel has intel_iommu=off), no fault pending.
expect GSTS '"0x00000000"'
expect FSTS '"0x00000000"'
# One unit, which QEMU describes by device scopes (edu among them).
n=$(echo "$json" | grep -o '"source": "dmar"' | wc -l)
if [ "$n" -ne 1 ]; then echo "discovery: $n units, expected 1"; fail=1; fi
expect include_pci_all false
exit $fail
