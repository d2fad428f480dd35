// SPDX-License-Identifier: GPL-2.0
/*
 * by 6.12: accessors of struct ftrace_regs (the arguments and the
 * instruction pointer that ftrace's argument-only trampoline saves); on
 * 6.1 ftrace_regs is a struct pt_regs read directly
 */
#include <linux/ftrace.h>

static unsigned long __maybe_unused probe(struct ftrace_regs *fregs)
{
	ftrace_regs_set_instruction_pointer(fregs, 0);
	return ftrace_regs_get_argument(fregs, 0);
}
