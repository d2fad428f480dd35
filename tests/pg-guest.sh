#!/bin/sh
# pg group, guest side (busybox): build a root with the host's own userland
# and run tests/pg-run.sh in it.  The host's / arrives read-only over
# virtio-9p (vm-run.sh adds the device for the pg groups); a tmpfs overlay
# makes it writable, so PostgreSQL runs from the host's packages, on the
# tested kernel, with the guest's msharefs.  Output is TAP.
# Usage: pg-guest.sh [MODE]        the pg group: pg-run.sh MODE
#        pg-guest.sh bench [ARGS]  make bench-pg: pg-bench.sh ARGS (the
#                                  scratch disk is /dev/vda)
set -u
script=pg-run.sh
if [ "${1:-}" = bench ]; then
	script=pg-bench.sh
	shift
	modprobe virtio_blk && modprobe ext4 ||
		{ echo "not ok - pg: the virtio_blk and ext4 modules load"; exit 1; }
fi
r=/pg

ok() { echo "ok - pg: $*"; }
bad() { echo "not ok - pg: $*"; }

# virtio_pci is a module on 6.1 (built in later): no-op where built in
modprobe virtio_pci && modprobe 9pnet_virtio && modprobe 9p &&
	modprobe overlay ||
	{ bad "the 9p and overlay modules load"; exit 1; }
mkdir -p /host /rw "$r"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 \
	hostroot /host ||
	{ bad "the host's root is mounted over 9p (no -virtfs device?)"; exit 1; }
mount -t tmpfs -o size=75% tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work \
	overlay "$r" || { bad "the overlay root is mounted"; exit 1; }
# The host's own mounts must not show through: fresh ones of the guest.
for d in proc sys dev tmp run tests; do
	mkdir -p "$r/$d"
done
mount -t proc proc "$r/proc"
mount -t sysfs sysfs "$r/sys"
mount -t devtmpfs devtmpfs "$r/dev"
mkdir -p "$r/dev/shm" "$r/dev/pts"
mount -t tmpfs tmpfs "$r/dev/shm"
mount -t devpts devpts "$r/dev/pts"
mount -t tmpfs tmpfs "$r/tmp"
mount -t tmpfs tmpfs "$r/run"
mkdir -p "$r/run/postgresql"
mount --bind /tests "$r/tests"
mount --bind /sys/fs/mshare "$r/sys/fs/mshare" ||
	{ bad "msharefs is visible in the root"; exit 1; }
ok "the host's userland is up (9p + overlay) on $(uname -r)"

chroot "$r" /bin/bash "/tests/$script" "$@"
rc=$?

umount "$r/sys/fs/mshare" "$r/tests" "$r/run" "$r/tmp" "$r/dev/pts" \
	"$r/dev/shm" "$r/dev" "$r/sys" "$r/proc" 2>/dev/null
exit $rc
