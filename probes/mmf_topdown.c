// SPDX-License-Identifier: GPL-2.0
/* 6.10: the mmap layout is a flag of the mm, not a function pointer */
#include <linux/mm_types.h>
#include <linux/sched/coredump.h>

#ifndef MMF_TOPDOWN
#error no MMF_TOPDOWN
#endif
