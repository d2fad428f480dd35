// SPDX-License-Identifier: GPL-2.0
/* by 7.3: MMF_DISABLE_THP split into _COMPLETELY and _EXCEPT_ADVISED */
#include <linux/mm.h>
#include <linux/mm_types.h>

#ifndef MMF_DISABLE_THP_COMPLETELY
#error no MMF_DISABLE_THP_COMPLETELY
#endif
