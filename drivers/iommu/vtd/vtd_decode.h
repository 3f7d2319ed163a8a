/* SPDX-License-Identifier: BSD-3-Clause
 * Names of the VT-d capability and status fields, for tools that print a
 * unit (app/vtd-info) and for logs. Pure tables: no register access.
 */
#ifndef VTD_DECODE_H
#define VTD_DECODE_H

#include <stddef.h>
#include <stdint.h>

enum vtd_decode_reg {
	VTD_DECODE_CAP = 0,   /* §11.4.2 */
	VTD_DECODE_ECAP,      /* §11.4.3 */
	VTD_DECODE_GSTS,      /* §11.4.4 */
	VTD_DECODE_FSTS,      /* §11.4.7.1 */
	VTD_DECODE_REGS
};

struct vtd_field {
	const char *name;     /* the specification's abbreviation */
	uint8_t hi, lo;       /* bit range */
	const char *desc;     /* what it means, a few words */
};

/* The fields of a register, in bit order; *n receives the count. */
const struct vtd_field *vtd_decode_fields(enum vtd_decode_reg reg,
					  unsigned int *n);
const char *vtd_decode_reg_name(enum vtd_decode_reg reg);
uint64_t vtd_field_value(const struct vtd_field *f, uint64_t reg_value);

/* A reading of the field's value where the raw number is not the meaning
 * (ND: domain ids; SAGAW: widths; MGAW: bits; FRO/IRO: byte offsets; NFR:
 * records; SLLPS: page sizes...). Writes "" when the raw value says it all.
 * Returns buf. */
char *vtd_field_meaning(enum vtd_decode_reg reg, const struct vtd_field *f,
			uint64_t reg_value, char *buf, size_t len);

#endif /* VTD_DECODE_H */
