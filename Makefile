# mshare: developer and user entry points.  `make help` lists them.
#
# make [KVER=...]   build mshare.ko for the running kernel (or KVER)
# make install      DKMS-install for the running kernel, plus modprobe.d,
#                   and make install-lib
# make lib          libmshare (.so.0, .a, mshare.pc) and the LD_PRELOAD
#                   shim libmshare-preload.so, in lib/
# make install-lib  the library, the shim, mshare.h, the uapi header and
#                   mshare.pc under PREFIX (/usr), staged under DESTDIR
# make check        install what is missing, then the whole VM test matrix
# make check-debug  every group on a KASAN + lockdep + DEBUG_VM kernel built
#                   here from linux-source-6.12 (cached; ~26 min once)
# make fuzz         the seeded fuzzer alone, FUZZ_SECS (600) per kernel,
#                   the debug kernel included; FUZZ_SEED=N replays a seed
# make demo         install what is missing, then a VM that shows mshare
# make bench        measure mshare vs plain sharing and hugetlbfs; writes
#                   docs/benchmarks.md
# make bench-icount instruction-counted guests: the loaded module's cost to
#                   unrelated work, mshare's fault, attach and host-change
#                   costs; writes docs/benchmarks-icount.md
# make bench-pg     PostgreSQL plain, hugetlb and mshare side by side;
#                   writes docs/postgresql.md
# make test         one kernel, one boot, chosen groups, in seconds
# make shell        an interactive guest shell with the module installed
# make lint         checkpatch + sparse

KVER	?= $(shell uname -r)
KDIR	?= /lib/modules/$(KVER)/build
VERSION	:= $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
PREFIX	?= /usr

# Test programs: static ones run anywhere in the busybox guest; those that
# need libkmod are dynamic and get their libraries copied into the guest.
TEST_CFLAGS	:= -std=gnu11 -Wall -Wextra -Werror -O2 -g -Iinclude/uapi
STATIC_TESTS	:= msharefs_test gup_test stress_test share_test unload_test \
		   security_test notify_test sync_test placement_test \
		   churn_test tables_test access_test stall_test fuzz_test \
		   hwpoison_test kept_test asuser
KMOD_TESTS	:= kmod_cycle
# The lib group: lib_test (static, with lib/libmshare.a) runs the dynamic
# preload_test under the shim, which goes into the guest beside them.
LIB_TESTS	:= lib_test preload_test libmshare-preload.so
TEST_BINS	:= $(addprefix build/tests/,$(STATIC_TESTS) $(KMOD_TESTS) \
		   $(LIB_TESTS)) build/tests/mshare_bench build/tests/icount_bench
LIB_OUT		:= lib/libmshare.a lib/libmshare.so.0 lib/libmshare.so \
		   lib/mshare.pc lib/libmshare-preload.so

# For make test / make shell
T_KVER	?= $(lastword $(shell ls -d /lib/modules/6.12.* 2>/dev/null | xargs -rn1 basename | sort -V))
BOOT	?=
GROUPS	?= fs

.PHONY: all modules clean install install-lib uninstall lib setup tests check check-debug fuzz demo bench bench-icount bench-pg test shell lint help

all: modules

modules:
	@test -f $(KDIR)/Makefile || { echo "no kernel headers for $(KVER) in $(KDIR): apt-get install linux-headers-$(KVER), or make KVER=<installed version>"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

clean:
	-test -f $(KDIR)/Makefile && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C lib clean
	rm -rf build

install:
	@test "$$(id -u)" = 0 || { echo "make install must run as root"; exit 1; }
	scripts/dkms-install.sh $(KVER)
	install -D -m 0644 etc/modprobe.d/mshare.conf /etc/modprobe.d/mshare.conf
	depmod $(KVER)
	$(MAKE) install-lib

# No root needed with DESTDIR (packaging); ldconfig runs without it.
install-lib: lib
	$(MAKE) -C lib install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

uninstall:
	-dkms remove mshare/$(VERSION) --all
	rm -rf /usr/src/mshare-$(VERSION)
	rm -f /etc/modprobe.d/mshare.conf
	$(MAKE) -C lib uninstall PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

lib: $(LIB_OUT)

$(LIB_OUT) &: lib/Makefile lib/mshare.c lib/preload.c lib/libmshare.map \
		lib/preload.map lib/mshare.pc.in include/mshare.h \
		include/uapi/linux/msharefs.h dkms.conf
	$(MAKE) -C lib

setup:
	scripts/setup.sh

# Every static test links the shared TAP helpers in tests/tap.c, the
# small helpers in tests/util.c and the region helpers in tests/region.c.
build/tests/%: tests/%.c tests/tap.c tests/tap.h tests/util.c tests/util.h \
		tests/region.c tests/region.h include/uapi/linux/msharefs.h
	@mkdir -p build/tests
	$(CC) $(TEST_CFLAGS) -static -pthread -o $@ $< tests/tap.c tests/util.c \
		tests/region.c

build/tests/mshare_bench: bench/mshare_bench.c include/uapi/linux/msharefs.h
	@mkdir -p build/tests
	$(CC) $(TEST_CFLAGS) -static -o $@ $<

build/tests/icount_bench: bench/icount_bench.c include/uapi/linux/msharefs.h
	@mkdir -p build/tests
	$(CC) $(TEST_CFLAGS) -static -o $@ $<

build/tests/kmod_cycle: tests/kmod_cycle.c
	@mkdir -p build/tests
	$(CC) $(TEST_CFLAGS) -o $@ $< $$(pkg-config --cflags --libs libkmod) -lm

build/tests/lib_test: tests/lib_test.c tests/tap.c tests/tap.h tests/util.c \
		tests/util.h lib/libmshare.a include/mshare.h
	@mkdir -p build/tests
	$(CC) $(TEST_CFLAGS) -Iinclude -static -pthread -o $@ $< tests/tap.c \
		tests/util.c lib/libmshare.a

build/tests/preload_test: tests/preload_test.c
	@mkdir -p build/tests
	$(CC) $(TEST_CFLAGS) -pthread -o $@ $<

build/tests/libmshare-preload.so: lib/libmshare-preload.so
	@mkdir -p build/tests
	cp $< $@

tests: $(TEST_BINS)

check: setup
	$(MAKE) tests
	scripts/check.sh

# The debug kernel is slow under the emulator: two boots (5-level, and
# 4-level with PTI), 50 load/unload cycles, an hour per boot at most.  Its
# brd is built in: the sizes the tests ask modprobe for go on the command
# line (the largest of them).  mshare_debug_kernel=1: kmod_cycle shows its
# memory counters without judging them (KASAN's quarantine holds frees).
check-debug: setup
	$(MAKE) tests
	MSHARE_KERNELS=$$(scripts/build-debug-kernel.sh) \
	MSHARE_BOOTS="5level no5lvl-pti" MSHARE_CYCLES=50 \
	MSHARE_KERNEL_ARGS="brd.rd_nr=2 brd.rd_size=65536 mshare_debug_kernel=1" \
	MSHARE_VM_TIMEOUT=3600 scripts/check.sh

# The fuzz group alone, one boot (4-level paging) per kernel: the newest 6.1
# and 6.12, then the debug kernel (built once if it is not cached).
FUZZ_SECS	?= 600
fuzz: setup
	$(MAKE) tests
	MSHARE_FUZZ=$(FUZZ_SECS) MSHARE_FUZZ_SEED=$(FUZZ_SEED) scripts/fuzz.sh

demo: setup
	$(MAKE) tests
	scripts/demo.sh

bench: setup
	$(MAKE) tests
	scripts/bench.sh

bench-icount: setup
	$(MAKE) tests
	scripts/bench-icount.sh

bench-pg: setup
	$(MAKE) tests
	scripts/bench-pg.sh

# Quick loop: build the module directly (no DKMS) for one kernel and boot it.
test: tests
	scripts/build-module.sh $(T_KVER)
	scripts/build-guest.sh $(T_KVER) build/kbuild/$(T_KVER)/mshare.ko
	scripts/vm-run.sh $(T_KVER) quick-$(T_KVER) $(GROUPS) $(BOOT) | awk -f scripts/tap-summary.awk

shell: tests
	scripts/build-module.sh $(T_KVER)
	scripts/build-guest.sh $(T_KVER) build/kbuild/$(T_KVER)/mshare.ko
	scripts/vm-run.sh $(T_KVER) shell shell $(BOOT)

lint:
	scripts/lint.sh

help:
	@sed -n 's/^# \{0,1\}//; 3,20p' Makefile
