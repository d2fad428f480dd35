#!/usr/bin/env bash
# `make demo`: DKMS-install mshare for the newest installed 6.12 kernel, boot
# it in QEMU, and show the guest's narrated run live on this terminal.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kver=${MSHARE_DEMO_KVER:-$(kernels_of 6.12 | tail -n 1)}
[ -n "$kver" ] || die "no 6.12 kernel installed (make setup)"

echo "demo: building and DKMS-installing mshare for $kver ..."
mkdir -p "$build"
if ! { "$top/scripts/dkms-install.sh" "$kver" &&
	"$top/scripts/build-guest.sh" "$kver"; } >"$build/demo-build.log" 2>&1; then
	cat "$build/demo-build.log"
	die "build failed"
fi
echo "demo: booting $kver under QEMU (software emulation: about a minute in all) ..."
# The guest's narration arrives on its second serial port: show it as it
# comes, without the TAP bookkeeping lines and the final kernel log dump.
out=$build/runs/demo
verdict=$build/demo-verdict.txt
rm -rf "$out"
MSHARE_VM_TIMEOUT=300 "$top/scripts/vm-run.sh" "$kver" demo demo >"$verdict" &
vm=$!
tail -n +1 -F "$out/tap.log" --pid=$vm 2>/dev/null |
	sed -u -e '/^### dmesg-begin/,$d' -e '/^###/d' -e '/^ok - /d' -e '/^# group /d' -e 's/\r$//' &
wait $vm || true
sleep 0.5
if ! grep -q '^ok' "$verdict" || grep -q '^not ok' "$verdict"; then
	echo
	echo "demo: something went wrong:"
	grep -v '^ok' "$verdict"
	exit 1
fi
echo
echo "demo: done; guest kernel log clean. Full logs in $out/"
