/*
 * A two-segment server DMAR table with every remapping structure type of
 * VT-d rev 4.x chapter 8, byte offsets noted at each structure (they are
 * checked by test_dmar.c and printed by vtd_dmar_print()).
 *
 * Written in iASL's generic data-table syntax (compiled with "iasl -G"),
 * not its DMAR syntax, because the iasl of Debian 12 (20200925) knows
 * neither the SATC structure (type 5, §8.8) nor the DRHD size field (byte
 * 5, §8.3; it forces that byte to 0 as "Reserved"). So every structure
 * length here is written by hand; the parser checks them all. iasl still
 * computes the table length and checksum.
 *
 * Topology assumed by the test's fake sysfs (PCI bridges):
 *   0000:00:03.0  root port, buses 10..1f
 *   0000:00:1c.0  root port, bus 20
 *   0001:80:02.0  root port, buses 81..85
 *   0001:81:00.0  switch upstream port below it, buses 82..85
 */
[0004]                          Signature : "DMAR"    [DMA Remapping table]
[0004]                       Table Length : 00000000
[0001]                           Revision : 01
[0001]                           Checksum : 00
[0006]                             Oem ID : "UVTD  "
[0008]                       Oem Table ID : "SERVER  "
[0004]                       Oem Revision : 00000002
[0004]                    Asl Compiler ID : "UVTD"
[0004]              Asl Compiler Revision : 00000003

/* §8.1: host address width 46 bits (stored as 45); flags INTR_REMAP and
 * DMA_CTRL_PLATFORM_OPT_IN. */
UINT8  : 2D                     /* Host Address Width */
UINT8  : 05                     /* Flags */
Buffer : 00 00 00 00 00 00 00 00 00 00 /* Reserved */

/* 0x030 DRHD 0: segment 0, 2 pages of registers at 0xfbffc000. */
UINT16 : 0000                   /* Type: DRHD */
UINT16 : 002A                   /* Length: 16 + 8 + 8 + 10 */
UINT8  : 00                     /* Flags */
UINT8  : 01                     /* Size: 2^1 pages */
UINT16 : 0000                   /* Segment */
UINT64 : 00000000FBFFC000       /* Register Base Address */
/* 0x040 */
UINT8  : 01                     /* Scope: PCI endpoint (integrated GPU) */
UINT8  : 08                     /* Length */
UINT8  : 00                     /* Flags */
UINT8  : 00                     /* Reserved */
UINT8  : 00                     /* Enumeration ID */
UINT8  : 00                     /* Start Bus */
UINT8  : 02                     /* Path: 02.0 */
UINT8  : 00
/* 0x048 */
UINT8  : 02                     /* Scope: PCI sub-hierarchy (root port) */
UINT8  : 08
UINT8  : 01                     /* Flags: a nonzero value, kept raw */
UINT8  : 00
UINT8  : 00
UINT8  : 00                     /* Start Bus */
UINT8  : 03                     /* Path: 03.0 */
UINT8  : 00
/* 0x050 */
UINT8  : 01                     /* Scope: PCI endpoint behind 00:1c.0 */
UINT8  : 0A                     /* Length: two hops */
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 00                     /* Start Bus */
UINT8  : 1C                     /* Path: 1c.0 (bridge) ... */
UINT8  : 00
UINT8  : 00                     /* ... then 00.0 on its secondary bus */
UINT8  : 00

/* 0x05A DRHD 1: segment 0 catch-all, at 0xfed90000. */
UINT16 : 0000
UINT16 : 0028                   /* Length: 16 + 3 * 8 */
UINT8  : 01                     /* Flags: INCLUDE_PCI_ALL */
UINT8  : 00                     /* Size: one page */
UINT16 : 0000
UINT64 : 00000000FED90000
/* 0x06A */
UINT8  : 03                     /* Scope: IOAPIC */
UINT8  : 08
UINT8  : 00
UINT8  : 00
UINT8  : 08                     /* Enumeration ID: IOAPIC id 8 */
UINT8  : F0                     /* Start Bus */
UINT8  : 1F                     /* Path: 1f.0 */
UINT8  : 00
/* 0x072 */
UINT8  : 04                     /* Scope: MSI-capable HPET */
UINT8  : 08
UINT8  : 00
UINT8  : 00
UINT8  : 00                     /* Enumeration ID: HPET 0 */
UINT8  : 00
UINT8  : 1E                     /* Path: 1e.6 */
UINT8  : 06
/* 0x07A */
UINT8  : 05                     /* Scope: ACPI namespace device */
UINT8  : 08
UINT8  : 00
UINT8  : 00
UINT8  : 01                     /* Enumeration ID: ANDD device 1 */
UINT8  : 00
UINT8  : 15                     /* Path: 15.0 */
UINT8  : 00

/* 0x082 DRHD 2: segment 1, 8 pages at 0x3fffe000000. */
UINT16 : 0000
UINT16 : 001A                   /* Length: 16 + 10 */
UINT8  : 00
UINT8  : 03                     /* Size: 2^3 pages */
UINT16 : 0001                   /* Segment 1 */
UINT64 : 000003FFFE000000
/* 0x092 */
UINT8  : 02                     /* Scope: PCI sub-hierarchy, two hops: */
UINT8  : 0A
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 80                     /* Start Bus 0x80 */
UINT8  : 02                     /* root port 80:02.0 ... */
UINT8  : 00
UINT8  : 00                     /* ... its switch port 81:00.0 */
UINT8  : 00

/* 0x09C DRHD 3: segment 1 catch-all, no scopes. */
UINT16 : 0000
UINT16 : 0010
UINT8  : 01                     /* INCLUDE_PCI_ALL */
UINT8  : 00
UINT16 : 0001
UINT64 : 000003FFFE010000

/* 0x0AC RMRR 0: USB controllers 00:14.0 and 00:1a.0. */
UINT16 : 0001                   /* Type: RMRR */
UINT16 : 0028                   /* Length: 24 + 2 * 8 */
UINT16 : 0000                   /* Reserved */
UINT16 : 0000                   /* Segment */
UINT64 : 000000003E2E0000       /* Base */
UINT64 : 000000003E2FFFFF       /* Limit */
/* 0x0C4 */
UINT8  : 01
UINT8  : 08
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 14                     /* 14.0 */
UINT8  : 00
/* 0x0CC */
UINT8  : 01
UINT8  : 08
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 1A                     /* 1a.0 */
UINT8  : 00

/* 0x0D4 RMRR 1: graphics stolen memory of 00:02.0. */
UINT16 : 0001
UINT16 : 0020
UINT16 : 0000
UINT16 : 0000
UINT64 : 000000003F000000
UINT64 : 000000003F7FFFFF
UINT8  : 01
UINT8  : 08
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 02                     /* 02.0 */
UINT8  : 00

/* 0x0F4 RMRR 2: a second range for 00:14.0. */
UINT16 : 0001
UINT16 : 0020
UINT16 : 0000
UINT16 : 0000
UINT64 : 000000003E400000
UINT64 : 000000003E400FFF
UINT8  : 01
UINT8  : 08
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 14                     /* 14.0 */
UINT8  : 00

/* 0x114 RMRR 3: segment 1, everything below root port 80:02.0. */
UINT16 : 0001
UINT16 : 0020
UINT16 : 0000
UINT16 : 0001
UINT64 : 000000007F000000
UINT64 : 000000007F0FFFFF
UINT8  : 02                     /* PCI sub-hierarchy */
UINT8  : 08
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 80
UINT8  : 02                     /* 80:02.0 */
UINT8  : 00

/* 0x134 ATSR 0: segment 0, only root port 00:03.0 supports ATS. */
UINT16 : 0002                   /* Type: ATSR */
UINT16 : 0010
UINT8  : 00                     /* Flags */
UINT8  : 00                     /* Reserved */
UINT16 : 0000                   /* Segment */
UINT8  : 02
UINT8  : 08
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 03                     /* 03.0 */
UINT8  : 00

/* 0x144 ATSR 1: segment 1, every root port (ALL_PORTS). */
UINT16 : 0002
UINT16 : 0008
UINT8  : 01                     /* ALL_PORTS */
UINT8  : 00
UINT16 : 0001

/* 0x14C RHSA 0: DRHD 0 on proximity domain 0. */
UINT16 : 0003                   /* Type: RHSA */
UINT16 : 0014
UINT32 : 00000000               /* Reserved */
UINT64 : 00000000FBFFC000       /* Register Base Address */
UINT32 : 00000000               /* Proximity Domain */

/* 0x160 RHSA 1: DRHD 2 on proximity domain 1. */
UINT16 : 0003
UINT16 : 0014
UINT32 : 00000000
UINT64 : 000003FFFE000000
UINT32 : 00000001

/* 0x174 RHSA 2: names no unit (kept, flagged by the summary). */
UINT16 : 0003
UINT16 : 0014
UINT32 : 00000000
UINT64 : 00000000DEAD0000
UINT32 : 00000007

/* 0x188 ANDD: ACPI device 1 is \_SB.PCI0.UAR1 (14 chars and a NUL). */
UINT16 : 0004                   /* Type: ANDD */
UINT16 : 0017                   /* Length: 8 + 15 */
UINT24 : 000000                 /* Reserved */
UINT8  : 01                     /* ACPI Device Number */
String : "\_SB.PCI0.UAR1"

/* 0x19F SATC: segment 0, the integrated GPU 00:02.0 needs its ATC. */
UINT16 : 0005                   /* Type: SATC */
UINT16 : 0010
UINT8  : 01                     /* Flags: ATC_REQUIRED */
UINT8  : 00
UINT16 : 0000
UINT8  : 01
UINT8  : 08
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 00
UINT8  : 02                     /* 02.0 */
UINT8  : 00

/* 0x1AF a structure of a type reserved today (7): skipped by its length. */
UINT16 : 0007
UINT16 : 000C
UINT64 : 0123456789ABCDEF
/* 0x1BB end of table */
