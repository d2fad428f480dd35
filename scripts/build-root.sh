#!/usr/bin/env bash
# Create (once) and update the Debian 13 (trixie) build root: a debootstrap
# tree in /var/cache/mshare/roots/trixie with trixie's compiler (gcc-14),
# make, dkms and the kernel images and headers of the trixie kernels under
# test.  Modules for those kernels are built in it (lib.sh: kmake); guests
# boot its kernel images.  The archive is the one the machine's own apt
# sources name (as setup.sh does for bookworm-backports).  Idempotent: a
# second run only installs what is missing.
# Usage: build-root.sh [PACKAGE[/RELEASE]...]   (default: linux-image-amd64
# and linux-headers-amd64 of trixie (6.12) and of trixie-backports (the
# newest 7.x), by their versioned names).  PACKAGE/RELEASE installs that
# release's version, and takes what it needs (linux-base) from there too.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root"
r=$roots/trixie
export DEBIAN_FRONTEND=noninteractive

src=/etc/apt/sources.list.d/debian.sources
archive=$(apt_archive)
uri=${archive%% *} key=${archive#* }
securi=$(awk '/^URIs:/ && /security/ {print $2; exit}' "$src" 2>/dev/null || true)
: "${securi:=${uri%/debian}/debian-security}"

if [ ! -x "$r/usr/bin/apt-get" ]; then
	command -v debootstrap >/dev/null ||
		apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
	echo "build-root: debootstrap trixie into $r (about a minute once)" >&2
	# a half-made root may still have build/ and /proc mounted in it
	root_umount "$r"
	rm -rf --one-file-system "$r"
	mkdir -p "$roots"
	debootstrap --variant=minbase --include=ca-certificates trixie "$r" \
		"$uri" >"$roots/trixie-debootstrap.log" 2>&1 ||
		{ tail -n 20 "$roots/trixie-debootstrap.log" >&2; die "debootstrap failed"; }
fi
rm -f "$r/etc/apt/sources.list"
printf 'Types: deb\nURIs: %s\nSuites: trixie trixie-updates trixie-backports\nComponents: main\nSigned-By: %s\n\nTypes: deb\nURIs: %s\nSuites: trixie-security\nComponents: main\nSigned-By: %s\n' \
	"$uri" "$key" "$securi" "$key" >"$r/etc/apt/sources.list.d/debian.sources"
mkdir -p "$r/usr/share/keyrings"
[ -f "$r$key" ] || cp "$key" "$r$key"

pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	chroot "$r" apt-get update -qq
	for rel in "" /trixie-backports; do
		for m in linux-image-amd64 linux-headers-amd64; do
			p=$(chroot "$r" apt-cache depends "$m$rel" |
				awk '/Depends: linux-(image|headers)-[0-9]/ {print $2; exit}')
			[ -n "$p" ] || die "no $m$rel in the build root's archive"
			pkgs+=("$p$rel")
		done
	done
	# Headers only of the newest PREEMPT_RT flavour: make check shows that
	# DKMS refuses it (no transparent huge pages, see dkms.conf).
	p=$(chroot "$r" apt-cache depends linux-headers-rt-amd64/trixie-backports |
		awk '/Depends: linux-headers-[0-9]/ {print $2; exit}')
	[ -n "$p" ] && pkgs+=("$p/trixie-backports")
fi
pkgs+=(gcc-14 make libc6-dev dkms kmod xz-utils)
missing=()
for p in "${pkgs[@]}"; do
	chroot "$r" dpkg-query -W -f='${Status}' "${p%%/*}" 2>/dev/null |
		grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "build-root: installing ${missing[*]}" >&2
	chroot "$r" apt-get update -qq
	chroot "$r" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
		>"$roots/trixie-apt.log" 2>&1 ||
		{ tail -n 20 "$roots/trixie-apt.log" >&2; die "apt-get in the build root failed"; }
fi
echo "build-root: $r: $(cd "$r/lib/modules" && echo *)"
