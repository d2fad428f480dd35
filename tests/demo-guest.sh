#!/bin/sh
# The narrated part of `make demo`, run inside the guest by /init.
# (Page-table sharing itself arrives with the next milestone; this shows the
# msharefs filesystem a user works with.)
mnt=/sys/fs/mshare
say() { printf '\n# %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; sh -c "$*" 2>&1; }

say "mshare demo on Linux $(uname -r) (QEMU guest, $(nproc) vCPUs)"
say "modprobe loaded the DKMS-built module; modprobe.d mounted msharefs:"
run "grep msharefs /proc/mounts"
say "Regions are sized in units of the alignment (512 GiB, one top-level page-table entry):"
run "cat $mnt/mshare_info"
say "Create a region and give it its size, once:"
run "touch $mnt/orders_db && truncate -s 512G $mnt/orders_db"
run "ls -l $mnt"
say "The size is fixed: a second size, or one that is not a multiple, is refused (EINVAL):"
run "truncate -s 1024G $mnt/orders_db"
run "touch $mnt/bad && truncate -s 1G $mnt/bad"
say "Directories organise regions; the usual permissions apply:"
run "mkdir -m 0750 $mnt/tenant1 && touch $mnt/tenant1/cache && chmod 0600 $mnt/tenant1/cache && truncate -s 1024G $mnt/tenant1/cache"
run "ls -lR $mnt"
say "mshare_info cannot be changed or removed (EPERM):"
run "rm -f $mnt/mshare_info"
say "Clean up; the module unloads once nothing uses it:"
run "rm -r $mnt/orders_db $mnt/bad $mnt/tenant1 && ls $mnt"
