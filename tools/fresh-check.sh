#!/usr/bin/env bash
# Runs the README's two commands as a newcomer would: in a fresh minimal Debian chroot
# (debootstrap --variant=minbase plus git, make and ca-certificates, as root), on a clean clone
# of the commit checked out here, with nothing else installed. A missing install step fails.
#
#   tools/fresh-check.sh [SUITE]        SUITE: bookworm (default) or trixie
#
# Environment:
#   FRESH_CACHE   where the debootstrap base tarballs are kept between runs
#                 (default /var/cache/firmproof-fresh; outside the checkout). Only the bare
#                 minbase system is cached: everything the project installs is installed
#                 from nothing on every run.
#   FRESH_SHARED  0: do not show ../shared to the chroot (default: a read-only bind mount of
#                 the checkout's ../shared, when present, beside the clone)
#   FRESH_STEPS   the make targets to run, in order (default: "demo test")
#   FRESH_KEEP    1: keep the chroot folder afterwards (default: removed)
#
# The Debian mirror is the one this machine's apt uses (its sources), so no host is named here.
# pip in the chroot trusts the same certificate authorities as this machine (its CA bundle is
# copied in). Every mount is undone on exit, whatever happens.
set -euo pipefail
suite=${1:-bookworm}
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
cache=${FRESH_CACHE:-/var/cache/firmproof-fresh}
steps=${FRESH_STEPS-demo test}
say() { printf 'fresh-check: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { say "needs root (debootstrap, chroot and mounts)"; exit 2; }
case "$suite" in bookworm|trixie) ;; *) say "unknown suite $suite (bookworm or trixie)"; exit 2 ;; esac

# The mirror: the first Debian archive URI of this machine's apt sources (deb822 or one-line).
mirror=${FRESH_MIRROR:-}
security=${FRESH_SECURITY_MIRROR:-}
sources=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null; true)
lines=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -E '^[[:space:]]*deb[[:space:]]' || true)
uris=$( { printf '%s\n' "$sources" | sed -nE 's/^URIs:[[:space:]]*//p' | tr ' ' '\n';
          printf '%s\n' "$lines" | sed -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/'; } \
        | sed -E 's#/+$##' | grep -E '^https?://' || true)
[ -n "$mirror" ] || mirror=$(printf '%s\n' "$uris" | grep -E '/debian$' | head -n1 || true)
[ -n "$security" ] || security=$(printf '%s\n' "$uris" | grep -E '/debian-security$' | head -n1 || true)
[ -n "$mirror" ] || { say "no Debian archive found in this machine's apt sources; set FRESH_MIRROR"; exit 2; }

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap on this machine"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap >/dev/null
fi

# The cached base: a bare minbase system with git, make and ca-certificates, nothing more.
mkdir -p "$cache"
base="$cache/$suite-minbase.tar"
if [ ! -s "$base" ]; then
  say "bootstrapping a minimal Debian $suite (cached in $base)"
  stage=$(mktemp -d "$cache/stage.XXXXXX")
  if ! debootstrap --variant=minbase --include=git,make,ca-certificates "$suite" "$stage" "$mirror" \
       > "$cache/$suite-debootstrap.log" 2>&1; then
    tail -n 20 "$cache/$suite-debootstrap.log" >&2
    rm -rf "$stage"
    say "debootstrap failed (log: $cache/$suite-debootstrap.log)"
    exit 2
  fi
  rm -rf "$stage/var/cache/apt/archives/"*.deb
  chmod 0755 "$stage"
  tar -C "$stage" -cf "$base.part" .
  mv "$base.part" "$base"
  rm -rf "$stage"
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/fresh-$suite.XXXXXX")
chmod 0755 "$root"
mounts=()
cleanup() {
  local rc=$? pid
  # whatever still runs inside the chroot (an interrupted make, pytest workers) ends first
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] && kill -9 "$pid" 2>/dev/null || true
  done
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount -l "${mounts[$i]}" 2>/dev/null || true
  done
  # nothing of the host may be below the root any more before it is removed
  if grep -q " $root/" /proc/mounts; then
    say "mounts remain below $root; not removing it"
  elif [ "${FRESH_KEEP:-0}" = 1 ]; then
    say "kept $root"
  else
    rm -rf "$root"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tar -C "$root" -xf "$base"
chmod 0755 "$root"    # tar restored the mode of the staging folder; a system's / is 0755

# What a newcomer's machine has: its apt sources (the same mirror, with updates and security),
# DNS, and the host's certificate authorities for pip (copied, then named in the environment).
{
  echo "deb $mirror $suite main"
  echo "deb $mirror $suite-updates main"
  [ -z "$security" ] || echo "deb $security $suite-security main"
} > "$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
for conf in /etc/apt/apt.conf.d/99artifact-registry; do   # a snapshot mirror's dates
  [ ! -f "$conf" ] || cp "$conf" "$root/etc/apt/apt.conf.d/"
done
host_ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$host_ca" ] && cp "$host_ca" "$root/etc/ssl/host-ca-bundle.crt"

bind() {  # bind SRC DEST [ro]
  mkdir -p "$2"
  mount --bind "$1" "$2"; mounts+=("$2")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$2"; fi
}
mount -t proc proc "$root/proc"; mounts+=("$root/proc")
mount -t sysfs sysfs "$root/sys"; mounts+=("$root/sys")
bind /dev "$root/dev"
bind /dev/pts "$root/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"; mounts+=("$root/dev/shm")
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"; mounts+=("$root/tmp")

# A clean clone of the commit checked out here (uncommitted changes are not part of it).
commit=$(git -C "$repo" rev-parse HEAD)
git clone -q --no-hardlinks "$repo" "$root/root/firmproof"
git -C "$root/root/firmproof" checkout -q "$commit"
shared=$(dirname "$repo")/shared
if [ "${FRESH_SHARED:-1}" != 0 ] && [ -d "$shared" ]; then
  bind "$shared" "$root/root/shared" ro
fi
say "Debian $suite chroot at $root, commit ${commit:0:12}, steps: $steps"

env_vars=(HOME=/root LANG=C.UTF-8 TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
if [ -f "$root/etc/ssl/host-ca-bundle.crt" ]; then
  env_vars+=(PIP_CERT=/etc/ssl/host-ca-bundle.crt SSL_CERT_FILE=/etc/ssl/host-ca-bundle.crt
             REQUESTS_CA_BUNDLE=/etc/ssl/host-ca-bundle.crt)
fi
[ -z "${CI:-}" ] || env_vars+=(CI="$CI")
for step in $steps; do
  start=$SECONDS
  say "make $step"
  # in the background, so that a signal is handled at once (the traps above), not after it
  chroot "$root" /usr/bin/env -i "${env_vars[@]}" /bin/bash -c "cd /root/firmproof && make $step" </dev/null &
  wait $!
  say "make $step: done in $((SECONDS - start)) s"
done
