#!/usr/bin/env bash
# Installs the Debian packages firmproof, its set-up, its tests and its benchmarks need, as
# listed in firmproof/data/debian-packages.txt: each requirement is checked by what is used
# (a command, a header, a library file), and only the packages whose check fails are installed.
#
#   tools/setup-debian.sh [PYTHON]      PYTHON: the interpreter the .venv is made from
#
# As root it installs; as a user with sudo it says what it will install and uses sudo; with
# neither it prints the one apt-get line to run and exits 1. Quiet when nothing is missing.
# Safe to run again after an interruption: an apt or dpkg lock is waited for, a half-configured
# dpkg is finished first, and a failed download is retried.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
table=${FIRMPROOF_PACKAGES:-$here/firmproof/data/debian-packages.txt}
python=${1:-python3}
log="$here/build/setup/apt.log"
say() { printf 'setup: %s\n' "$*" >&2; }

# shellcheck disable=SC1091
suite=$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)
os_id=$( (. /etc/os-release 2>/dev/null && echo "${ID:-} ${ID_LIKE:-}") || true)
case " $os_id " in
  *" debian "*) ;;
  *) say "this is not Debian (${os_id:-unknown}); firmproof's set-up supports Debian 12 (bookworm) and 13 (trixie)" ;;
esac

# The python3 version decides the venv and header packages' paths ({py} in the table).
py=""
if command -v "$python" >/dev/null 2>&1; then
  py=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
fi

found() {  # found CHECK: is the requirement there?
  local check=$1
  if [[ "$check" == *"{py}"* ]]; then
    [ -n "$py" ] || return 1
    check=${check//\{py\}/$py}
  fi
  if [[ "$check" == /* ]]; then
    compgen -G "$check" >/dev/null
  else
    command -v "$check" >/dev/null 2>&1 || [ -x "/usr/sbin/$check" ] || [ -x "/sbin/$check" ]
  fi
}

package_for() {  # package_for SPEC: the package on this release
  local spec=$1 name=${1%%;*} alt
  IFS=';' read -ra alts <<< "$spec"
  for alt in "${alts[@]:1}"; do
    [ "${alt%%:*}" = "$suite" ] && name=${alt#*:}
  done
  printf '%s\n' "$name"
}

unmet() {  # fills missing (packages, each once), checks (what failed) and named (with package)
  missing=() checks=() named=()
  local spec check pkg
  while read -r spec check _; do
    [[ -z "$spec" || "$spec" == \#* ]] && continue
    found "$check" && continue
    pkg=$(package_for "$spec")
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
    checks+=("$check")
    named+=("$check ($pkg)")
  done < "$table"
}

unmet
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get install --no-install-recommends ${missing[*]}"
if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -v 2>/dev/null; then
  sudo=(sudo)
  say "installing with sudo: ${missing[*]}"
else
  say "missing: ${checks[*]}"
  say "run as root, then \`make setup\` again:"
  printf '  %s\n' "$line" >&2
  exit 1
fi
[ ${#sudo[@]} -gt 0 ] || say "installing Debian packages: ${missing[*]}"

# A package the table names as PKG/RELEASE comes from that release of the same archive
# (bookworm-backports): its source is added, with the URI of this release's own, if absent.
sources() {  # sources: "URI RELEASE" of every configured source (apt's lists need not exist)
  apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | sort -u
}
for pkg in "${missing[@]}"; do
  [[ "$pkg" == */* ]] || continue
  release=${pkg#*/}
  sources | grep -q " $release\$" && continue
  uri=$(sources | awk -v s="$suite" '$2 == s { print $1; exit }')
  [ -n "$uri" ] || { say "no source for $suite to add $release beside"; exit 1; }
  say "adding the Debian source $release (for ${pkg%%/*})"
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" "$release" | "${sudo[@]}" tee "/etc/apt/sources.list.d/firmproof-$release.sources" >/dev/null
done

mkdir -p "$(dirname "$log")"
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600
     -o Acquire::Retries=3 -y -q)
attempt() {  # attempt CMD...: up to three tries (network errors, a lock held past its timeout)
  local try
  for try in 1 2 3; do
    if "$@" >> "$log" 2>&1; then return 0; fi
    [ "$try" = 3 ] || { say "'${*: -1}' failed, trying again in $((try * 10)) s (log: $log)"; sleep $((try * 10)); }
  done
  return 1
}
: > "$log"
fail() { tail -n 25 "$log" >&2; say "$1 (full log: $log)"; exit 1; }
# an earlier run cut off in the middle of dpkg leaves packages half-configured
if compgen -G "/var/lib/dpkg/updates/*" >/dev/null; then
  attempt "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive dpkg --configure -a || fail "dpkg --configure -a failed"
fi
attempt "${apt[@]}" update || fail "apt-get update failed"
attempt "${apt[@]}" install --no-install-recommends "${missing[@]}" || fail "apt-get install failed"

# installed: every check must hold now, or the table names the wrong package
[ -n "$py" ] || py=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
installed=${#missing[@]}
unmet
if [ ${#checks[@]} -gt 0 ]; then
  say "installed, but still missing: ${named[*]}"
  exit 1
fi
say "Debian packages installed ($installed)"
