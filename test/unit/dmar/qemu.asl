/*
 * A DMAR table shaped like the one QEMU 7.2 builds for
 * "-M q35 -device intel-iommu,intremap=on" (hw/i386/acpi-build.c,
 * build_dmar_q35): host address width 39 bits (aw-bits=39, stored as 38),
 * interrupt remapping reported, and one remapping unit at 0xfed90000 that
 * covers every PCI device of segment 0 (INCLUDE_PCI_ALL), with the I/O APIC
 * (id 0) in its scope at QEMU's pseudo source-id ff:00.0.
 *
 * iASL data-table syntax: "iasl -T DMAR" prints a template, "iasl -d"
 * decodes a binary table. The table length and the checksum are computed
 * by iasl; the meson build compiles this file (test/unit/meson.build).
 */
[0004]                          Signature : "DMAR"    [DMA Remapping table]
[0004]                       Table Length : 00000000
[0001]                           Revision : 01
[0001]                           Checksum : 00
[0006]                             Oem ID : "BOCHS "
[0008]                       Oem Table ID : "BXPC    "
[0004]                       Oem Revision : 00000001
[0004]                    Asl Compiler ID : "BXPC"
[0004]              Asl Compiler Revision : 00000001

[0001]                 Host Address Width : 26
[0001]                              Flags : 01
[0010]                           Reserved : 00 00 00 00 00 00 00 00 00 00

[0002]                      Subtable Type : 0000 [Hardware Unit Definition]
[0002]                             Length : 0018

[0001]                              Flags : 01
[0001]                           Reserved : 00
[0002]                 PCI Segment Number : 0000
[0008]              Register Base Address : 00000000FED90000

[0001]                  Device Scope Type : 03 [IOAPIC Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : FF

[0002]                           PCI Path : 00,00
