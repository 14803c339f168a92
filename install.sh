#!/bin/sh
# install.sh: download a released lockstep for this OS and architecture, check
# it against the release's checksums.txt, and install the binary.
#
#   sh install.sh [VERSION]        VERSION: v1.2.3, 1.2.3 or latest (default)
#
# The GitHub Action (action.yml) runs this script; so can any CI job or
# machine with curl (or wget), tar (unzip on Windows) and sha256sum (or
# shasum). Environment:
#
#   LOCKSTEP_VERSION       the version when no argument is given (default latest)
#   LOCKSTEP_INSTALL_DIR   where the binary goes (default $HOME/.local/bin)
#   LOCKSTEP_DOWNLOAD_URL  the directory holding checksums.txt and the archives
#                          (default: the GitHub release of VERSION)
#   LOCKSTEP_OS, LOCKSTEP_ARCH  override the detected linux|darwin|windows and
#                          amd64|arm64
#
# It prints the installed binary's path on stdout; everything else goes to
# stderr. It fails (exit 1) rather than install a file whose checksum does not
# match.
set -eu

repo=https://github.com/lockstep-dev/lockstep/releases
version=${1:-${LOCKSTEP_VERSION:-latest}}
dir=${LOCKSTEP_INSTALL_DIR:-${HOME:-.}/.local/bin}

say() { printf 'lockstep install: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

detect_os() {
	case ${LOCKSTEP_OS:-$(uname -s)} in
	linux | Linux) echo linux ;;
	darwin | Darwin | macOS) echo darwin ;;
	windows | Windows | MINGW* | MSYS* | CYGWIN*) echo windows ;;
	*) die "unsupported OS $(uname -s): releases exist for linux, darwin and windows" ;;
	esac
}

detect_arch() {
	case ${LOCKSTEP_ARCH:-$(uname -m)} in
	amd64 | x86_64 | X64) echo amd64 ;;
	arm64 | aarch64 | ARM64) echo arm64 ;;
	*) die "unsupported architecture $(uname -m): releases exist for amd64 and arm64" ;;
	esac
}

fetch() { # URL FILE
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 3 -o "$2" "$1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1"
	else
		die "neither curl nor wget is installed"
	fi
}

sha256() { # FILE
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | cut -d' ' -f1
	else
		die "neither sha256sum nor shasum is installed"
	fi
}

os=$(detect_os)
arch=$(detect_arch)
case $version in
latest) url=${LOCKSTEP_DOWNLOAD_URL:-$repo/latest/download} ;;
v*) url=${LOCKSTEP_DOWNLOAD_URL:-$repo/download/$version} ;;
*) url=${LOCKSTEP_DOWNLOAD_URL:-$repo/download/v$version} ;;
esac
ext=tar.gz
[ "$os" = windows ] && ext=zip

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t lockstep)
trap 'rm -rf "$tmp"' EXIT
fetch "$url/checksums.txt" "$tmp/checksums.txt" || die "cannot download $url/checksums.txt"
# checksums.txt names every archive: "<sha256>  lockstep_1.2.3_linux_amd64.tar.gz".
# The archive's own line tells its name, and so the version, even for latest.
line=$(grep " lockstep_[^ ]*_${os}_${arch}\.${ext}\$" "$tmp/checksums.txt" | head -n 1 || true)
[ -n "$line" ] || die "no lockstep archive for ${os}/${arch} in $url/checksums.txt"
want=${line%% *}
archive=${line##* }
fetch "$url/$archive" "$tmp/$archive" || die "cannot download $url/$archive"
got=$(sha256 "$tmp/$archive")
[ "$got" = "$want" ] || die "checksum mismatch for $archive: got $got, want $want (from checksums.txt)"

mkdir -p "$tmp/x" "$dir"
if [ "$ext" = zip ]; then
	if command -v unzip >/dev/null 2>&1; then
		unzip -q -o "$tmp/$archive" -d "$tmp/x"
	else
		# Git Bash paths (/tmp/...) mean nothing to PowerShell: convert them.
		src=$tmp/$archive dst=$tmp/x
		if command -v cygpath >/dev/null 2>&1; then
			src=$(cygpath -w "$src") dst=$(cygpath -w "$dst")
		fi
		powershell -NoProfile -Command "Expand-Archive -Force -Path '$src' -DestinationPath '$dst'"
	fi
	bin=lockstep.exe
else
	tar -xzf "$tmp/$archive" -C "$tmp/x"
	bin=lockstep
fi
[ -f "$tmp/x/$bin" ] || die "$archive holds no $bin"
chmod +x "$tmp/x/$bin"
mv -f "$tmp/x/$bin" "$dir/$bin"
say "installed $archive (sha256 $got) as $dir/$bin"
printf '%s\n' "$dir/$bin"
