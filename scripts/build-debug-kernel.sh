#!/usr/bin/env bash
# Build the debug kernel of `make check-debug` (KASAN, lockdep, DEBUG_VM,
# PAGE_TABLE_CHECK, DEBUG_PAGEALLOC, KFENCE, ...) from Debian's
# linux-source-6.12 with the fragment etc/debug-kernel.config, and install
# it beside the Debian kernels (/boot/vmlinuz-<release>,
# /lib/modules/<release>/build) so that the guest scripts treat it like
# them.  The build is cached under $MSHARE_DEBUG_CACHE (default
# /var/cache/mshare/debug-kernel), keyed by the source version and the
# fragment: a second run reuses it.  Prints the release.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "build-debug-kernel: must run as root (installs packages and the kernel)"
export DEBIAN_FRONTEND=noninteractive
need="flex bison bc libelf-dev libssl-dev linux-source-6.12 xz-utils"
missing=""
for p in $need; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update -qq
	# bookworm-backports (scripts/setup.sh adds it) has linux-source-6.12
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends -t bookworm-backports $missing >&2
fi

tarball=$(ls /usr/src/linux-source-6.12.tar.xz)
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
frag="$top/etc/debug-kernel.config"
key=$(cat "$frag" | sha1sum | cut -c1-12)
cache=${MSHARE_DEBUG_CACHE:-/var/cache/mshare/debug-kernel}
dir="$cache/$srcver-$key"
src="$dir/linux-source-6.12"
obj="$dir/obj"

if [ ! -f "$dir/built" ]; then
	start=$(date +%s)
	# Builds for other sources or fragments are stale: a few GB each.
	rm -rf "$dir" "$cache"/*-*
	mkdir -p "$dir" "$obj"
	echo "debug kernel: unpacking $tarball ($srcver)" >&2
	tar -xJf "$tarball" -C "$dir"
	mk() { make -C "$src" O="$obj" -s "$@"; }
	mk x86_64_defconfig >&2
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" \
		"$src/kernel/configs/kvm_guest.config" "$frag" >&2
	mk olddefconfig >&2
	# Every option of the fragment must have stuck.
	bad=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=n) opt=${line%%=*}
			if grep -q "^$opt=" "$obj/.config"; then echo "debug kernel: $opt is set" >&2; bad=1; fi ;;
		CONFIG_*) grep -qxF "$line" "$obj/.config" ||
			{ echo "debug kernel: $line did not stick" >&2; bad=1; } ;;
		esac
	done <"$frag"
	[ "$bad" = 0 ] || die "debug kernel: the configuration is not what etc/debug-kernel.config asks for"
	echo "debug kernel: building with $(nproc) jobs" >&2
	mk -j"$(nproc)" bzImage modules >&2
	echo $(( $(date +%s) - start )) >"$dir/build-seconds"
	touch "$dir/built"
fi

rel=$(make -C "$src" O="$obj" -s kernelrelease)
if [ ! -f "/boot/vmlinuz-$rel" ] || ! cmp -s "$obj/arch/x86/boot/bzImage" "/boot/vmlinuz-$rel"; then
	install -m 0644 "$obj/arch/x86/boot/bzImage" "/boot/vmlinuz-$rel"
	make -C "$src" O="$obj" -s INSTALL_MOD_PATH=/ modules_install >&2
	ln -sfn "$obj" "/lib/modules/$rel/build"
fi
echo "debug kernel: $rel (built in $(cat "$dir/build-seconds") s, cached in $dir)" >&2
echo "$rel"
