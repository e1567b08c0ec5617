#!/usr/bin/env bash
# Builds AOSP's lpmake and lpunpack, the tools that write and read Android's dynamic-partition
# `super.img` (liblp), into the folder given as $1. Debian ships liblp's sources but packages
# neither tool, so they are compiled here from Debian's own source packages (AOSP 10:
# android-platform-tools holds system/core/fs_mgr/liblp, android-platform-system-extras holds
# partition_tools/lpmake.cc and lpunpack.cc), fetched with `apt-get source` from the deb-src
# twins of this machine's Debian sources (checksums checked against the signed indices), and
# linked against Debian's libbase, liblog, libsparse, libext4_utils and BoringSSL.
# The tests build super images with lpmake; lpunpack is the reference tool of the benchmark.
set -euo pipefail
dest=$(realpath -m "${1:?usage: build-lptools.sh DEST_DIR}")
[ -x "$dest/lpmake" ] && [ -x "$dest/lpunpack" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/parts" "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/src"
: > "$tmp/sources.list"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$tmp/parts/debian.sources"
fi
if [ -f /etc/apt/sources.list ]; then
  sed -nE 's/^[[:space:]]*deb[[:space:]]+(.*debian.*)$/deb-src \1/p' /etc/apt/sources.list > "$tmp/sources.list"
fi
apt=(apt-get -q -o Dir::Etc::SourceList="$tmp/sources.list" -o Dir::Etc::SourceParts="$tmp/parts"
     -o Dir::State::Lists="$tmp/lists" -o Dir::Cache="$tmp/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
"${apt[@]}" update -qq
(cd "$tmp/src" && "${apt[@]}" source --download-only -qq android-platform-tools android-platform-system-extras >/dev/null)
# the orig tarballs: .tar.gz or .tar.xz, their top folder named by version or "." (trixie's)
for pkg in android-platform-tools android-platform-system-extras; do
  orig=$(ls "$tmp"/src/"$pkg"_*.orig.tar.* | head -n1)
  mkdir -p "$tmp/src/$pkg"
  tar -C "$tmp/src/$pkg" -xaf "$orig" --wildcards '*/system/core/fs_mgr/liblp/*' '*/partition_tools/lp*.cc' \
    2>/dev/null || true
done
liblp=$(find "$tmp/src/android-platform-tools" -type d -path '*/system/core/fs_mgr/liblp' | head -n1)
tools=$(find "$tmp/src/android-platform-system-extras" -type d -name partition_tools | head -n1)
[ -f "$liblp/reader.cpp" ] && [ -f "$tools/lpmake.cc" ] || { echo "liblp or lpmake sources not found" >&2; exit 1; }
libdir=/usr/lib/$(gcc -print-multiarch)/android
# (AOSP 14 sources lean on headers that GCC 14 no longer pulls in transitively)
flags=(-std=c++17 -O2 -D_FILE_OFFSET_BITS=64 -include algorithm -include cstdint -I"$liblp/include" -I/usr/include/android -w)
pids=()
for src in builder images partition_opener property_fetcher reader utility writer; do
  g++ "${flags[@]}" -c "$liblp/$src.cpp" -o "$tmp/$src.o" & pids+=($!)
done
for tool in lpmake lpunpack; do
  g++ "${flags[@]}" -c "$tools/$tool.cc" -o "$tmp/$tool.o" & pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
mkdir -p "$dest"
for tool in lpmake lpunpack; do
  g++ -o "$tmp/$tool" "$tmp/$tool.o" "$tmp"/{builder,images,partition_opener,property_fetcher,reader,utility,writer}.o \
    -L"$libdir" -Wl,-rpath,"$libdir" -lbase -llog -lsparse -lcrypto -lext4_utils -lz
  install -m 0755 "$tmp/$tool" "$dest/$tool"
done
echo "built lpmake and lpunpack (AOSP liblp from Debian's sources) into $dest"
