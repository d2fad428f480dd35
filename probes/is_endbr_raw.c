// SPDX-License-Identifier: GPL-2.0
/*
 * 7.x: is_endbr() takes a pointer and is out of line (and not exported);
 * the inline test of an instruction word is __is_endbr().  IBT kernels only.
 */
#include <asm/ibt.h>

static bool __maybe_unused probe(u32 insn)
{
	return __is_endbr(insn);
}
