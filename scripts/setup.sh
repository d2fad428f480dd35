#!/usr/bin/env bash
# Install everything mshare needs to build, package and test itself on a
# Debian 12 (bookworm) x86_64 machine: toolchain, DKMS, kmod, QEMU, busybox,
# and the Debian 6.1 (bookworm) and 6.12 (bookworm-backports) kernel images
# and headers; then the Debian 13 (trixie) build root with its compiler and
# 6.12 kernel (scripts/build-root.sh). Idempotent: a second run only checks.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: must run as root (installs Debian packages)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
. "$(dirname "$0")/lib.sh"

have_kernel() { # $1 = glob of the kernel release
	compgen -G "/boot/vmlinuz-$1" >/dev/null &&
		compgen -G "/lib/modules/$1/build/Makefile" >/dev/null
}

pkgs="build-essential gcc make bc kmod libkmod-dev pkg-config dkms
      qemu-system-x86 busybox-static cpio gzip sparse perl python3
      linux-source-6.1 libelf-dev gnuplot-nox stress-ng debootstrap
      postgresql-15"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done

bp=/etc/apt/sources.list.d/mshare-bookworm-backports.sources
if [ ! -f "$bp" ]; then
	# Same archive and key as the machine's own bookworm entry.
	archive=$(apt_archive)
	uri=${archive%% *} key=${archive#* }
	printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
		"$uri" "$key" >"$bp"
	need_update=1
fi

if [ -n "$missing" ] || ! have_kernel '6.1.*' || ! have_kernel '6.12.*' ||
	[ -n "${need_update:-}" ]; then
	echo "setup: installing packages (this takes a few minutes once)"
	apt-get update -qq
	# shellcheck disable=SC2086
	[ -z "$missing" ] || apt-get install -y -qq --no-install-recommends $missing
	if ! have_kernel '6.1.*'; then
		apt-get install -y -qq --no-install-recommends \
			linux-image-amd64 linux-headers-amd64
	fi
	if ! have_kernel '6.12.*'; then
		# The metapackages share names across suites; install the
		# versioned packages that bookworm-backports' metapackage names.
		img=$(apt-cache depends -t bookworm-backports linux-image-amd64 |
			awk '/Depends: linux-image-6\.12/ {print $2; exit}')
		hdr=$(apt-cache depends -t bookworm-backports linux-headers-amd64 |
			awk '/Depends: linux-headers-6\.12/ {print $2; exit}')
		if [ -z "$img" ] || [ -z "$hdr" ]; then
			echo "setup: no 6.12 kernel in bookworm-backports" >&2
			exit 1
		fi
		apt-get install -y -qq --no-install-recommends -t bookworm-backports \
			"$img" "$hdr"
	fi
fi

for k in '6.1.*' '6.12.*'; do
	have_kernel "$k" || { echo "setup: kernel $k missing" >&2; exit 1; }
done
"$(dirname "$0")/build-root.sh"
echo "setup: ok ($(cd /lib/modules && echo 6.*))"
