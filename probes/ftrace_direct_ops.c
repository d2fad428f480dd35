// SPDX-License-Identifier: GPL-2.0
/*
 * by 6.6: register_ftrace_direct() takes an ftrace_ops (6.1 has it as
 * register_ftrace_direct_multi(), and unregistration frees no filter)
 */
#include <linux/ftrace.h>

static int __maybe_unused probe(struct ftrace_ops *ops)
{
	return register_ftrace_direct(ops, 0) +
	       unregister_ftrace_direct(ops, 0, true);
}
