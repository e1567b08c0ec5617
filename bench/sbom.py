"""Benchmark: which components, at which exact versions, does the SBOM name? firmproof against
cve-bin-tool, on the same real Debian binaries of several architectures, same run.

The set: Debian 12 binary packages that firmware commonly ships (PACKAGES below: one component,
the packages that carry its programs and libraries), for amd64, armhf and mipsel, fetched with
`apt-get download` under a private apt state in build/bench/sbom/apt (tests/aptstate.py: its own
sources list, lists and cache; the host's apt configuration and architectures are untouched).

Truth: each component's upstream version, read from its packages' control files: the source
package's version when the control file names one (`Source: bash (5.2.15-2)`: a binNMU or a
binary version of its own), else the package's; no epoch, no Debian revision, no repack suffix
(`+dfsg`, `.dfsg`, `+ds`, `+repack`: 2:4.17.12+dfsg-0+deb12u4 -> 4.17.12).

Each architecture's packages are unpacked with `dpkg-deb -x` (files only: no dpkg database, so
nothing but the binaries can tell) into one folder, packed into one SquashFS with mksquashfs, and
    firmproof: `firmproof scan ARCH.sqfs --format sbom` (the whole scan, timed), plus the
        identification alone (firmproof.device.components.identify on the same folder, timed);
    cve-bin-tool (reference, GPL-3.0: installed into its own venv under build/, never a
        dependency of firmproof): run offline on the unpacked folder (it does not open
        SquashFS), with an empty vulnerability database (see `cve_bin_tool_home`).

Scoring, per (component, architecture) of the set, over the versions a tool reports for it:
    exact    the right version and no other
    extra    the right version and, beside it, another one (a false CVE match waiting to happen)
    wrong    only other versions
    missed   nothing
and per architecture, components reported that are not in the set:
    spurious   every such (component, version), unless BUNDLED says a package of the set really
               ships a copy of that component at that version (a vendored or statically linked
               library, checked by hand in the package's sources): those are `bundled` and not
               scored. A library the set's programs merely link to (and that is not in the set) is
               spurious: its file is not in the image.
A reported name is matched to a component by its name or its CPE product (cve-bin-tool: its
product), lowercased, `-` read as `_`, against the component's ALIASES.

    python bench/sbom.py [--suite trixie] [--arch amd64 ...] [--details] [--json OUT.json]
                         [--no-cve-bin-tool | --quick]

Prints Markdown tables for docs/benchmarks.md; --json writes every pair's verdict (diffable).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUILD = REPO / "build" / "bench" / "sbom"
SUITE = "bookworm"
ARCHES = ("amd64", "armhf", "mipsel")
# trixie has no mipsel; bullseye (its mirror keeps no MIPS now): other versions, and i386
SUITES = {"bookworm": ARCHES, "trixie": ("amd64", "arm64", "armhf"), "bullseye": ("i386", "arm64", "armhf")}
CVE_BIN_TOOL = "cve-bin-tool==3.4"

# component -> (Debian 12 binary packages carrying its programs and libraries, other names a tool
# may give it: its NVD CPE product(s) and common spellings)
PACKAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "busybox": (("busybox",), ()),
    "dropbear": (("dropbear-bin",), ("dropbear_ssh",)),
    "openssh": (("openssh-server", "openssh-client"), ()),
    "openssl": (("openssl", "libssl3"), ("libssl",)),
    "curl": (("curl", "libcurl4"), ("libcurl",)),
    "wget": (("wget",), ()),
    "lighttpd": (("lighttpd",), ()),
    "nginx": (("nginx",), ()),
    "dnsmasq": (("dnsmasq-base",), ()),
    "hostapd": (("hostapd",), ()),
    "wpa_supplicant": (("wpasupplicant",), ("wpasupplicant",)),
    "iptables": (("iptables",), ("netfilter_iptables",)),
    "chrony": (("chrony",), ()),
    "ntpsec": (("ntpsec",), ()),
    "samba": (("samba", "samba-libs"), ()),
    "sqlite": (("sqlite3", "libsqlite3-0"), ("sqlite3", "libsqlite3")),
    "zlib": (("zlib1g",), ()),
    "expat": (("libexpat1",), ("libexpat",)),
    "libxml2": (("libxml2",), ()),
    "pcre2": (("libpcre2-8-0",), ()),
    "lua": (("lua5.4", "liblua5.4-0"), ()),
    "python": (("python3.11-minimal",), ("cpython", "python3")),
    "bash": (("bash",), ()),
    "sudo": (("sudo",), ()),
    "tcpdump": (("tcpdump",), ()),
    "libpcap": (("libpcap0.8",), ()),
    "miniupnpd": (("miniupnpd-nftables",), ()),
    "avahi": (("avahi-daemon",), ("avahi_daemon",)),
    "pppd": (("ppp",), ("ppp", "point_to_point_protocol")),
    "strongswan": (("libstrongswan", "strongswan-charon"), ()),
    "openvpn": (("openvpn",), ()),
    "iproute2": (("iproute2",), ()),
    "u-boot": (("u-boot-tools",), ("u_boot", "uboot", "das_u_boot")),
    "e2fsprogs": (("e2fsprogs", "libext2fs2"), ()),
    "util-linux": (("util-linux",), ()),
    "glibc": (("libc6", "libc-bin"), ("gnu_c_library",)),
    "lzo": (("liblzo2-2",), ("lzo2", "liblzo2")),
    "xz": (("xz-utils", "liblzma5"), ("xz_utils", "liblzma")),
    "bzip2": (("bzip2", "libbz2-1.0"), ("libbz2",)),
    "gnutls": (("libgnutls30",), ()),
    "mbedtls": (("libmbedtls14",), ("mbed_tls",)),
    "wolfssl": (("libwolfssl35",), ()),
    "net-snmp": (("snmpd", "libsnmp40"), ()),
    "nftables": (("nftables", "libnftables1"), ()),
    "libupnp": (("libupnp13",), ("pupnp", "portable_sdk_for_upnp_devices", "libupnp_project")),
    "xl2tpd": (("xl2tpd",), ()),
    "isc-dhcp": (("isc-dhcp-client",), ("dhcp", "dhcp_client", "isc_dhcp", "dhclient")),
    "pcre": (("libpcre3",), ()),
    "libgcrypt": (("libgcrypt20",), ()),
    "libssh": (("libssh-4",), ()),
    "json-c": (("libjson-c5",), ()),
    "mini_httpd": (("mini-httpd",), ()),
}

# component -> (package of the set that ships a copy of it, the version it ships, how we know).
# Nothing yet: every component reported outside the set has been a false one so far.
BUNDLED: dict[str, tuple[str, str, str]] = {}

# (release, component) -> (the version its binaries say, how we know): where the package is built
# from another upstream state than its version says, the binaries' version is the truth, for every
# tool alike (listed under the tables when used). Checked by hand in the binaries and the package.
BINARY_SAYS: dict[tuple[str, str], tuple[str, str]] = {
    ("trixie", "openssh"): ("10.0p2", "Debian's 1:10.0p1-7 carries the 10.0p2 release; its "
                                      "binaries say OpenSSH_10.0p2"),
    ("trixie", "net-snmp"): ("5.9.4.pre2", "Debian's 5.9.4+dfsg is built from the 5.9.4.pre2 "
                                          "tarball; its libraries say 5.9.4.pre2"),
    ("bullseye", "bash"): ("5.1.4", "Debian's 5.1-2 applies upstream patches 1 to 4; bash says "
                                    "\"version 5.1.4(1)-release\""),
    ("bullseye", "iproute2"): ("5.9.0", "upstream's 5.10.0 tarball kept 5.9.0 in its version.h; "
                                        "ip -V says iproute2-5.9.0"),
    ("bullseye", "libgcrypt"): ("1.8.8", "Debian's 1.8.7-6 is the 1.8 branch after 1.8.7; the "
                                         "library says 1.8.8"),
    ("bullseye", "wolfssl"): ("4.6.0", "Debian's 4.6.0+p1 is a repack of the 4.6.0 release"),
}

VERDICTS = ("exact", "wrong", "extra", "missed")


# ---------------------------------------------------------------- truth

_EPOCH = re.compile(r"^\d+:")
_REPACK = re.compile(r"[+.~](?:dfsg|ds|repack|debian)\d*$")


def upstream_version(version: str) -> str:
    """Debian version -> upstream version: no epoch, no revision, no repack suffix."""
    version = _EPOCH.sub("", version)
    if "-" in version:
        version = version.rsplit("-", 1)[0]
    if "+really" in version:
        version = version.split("+really", 1)[1]
    return _REPACK.sub("", version)


def control_version(deb: Path) -> tuple[str, str]:
    """(package, the version of its source package) from a .deb's control file."""
    out = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Source"], capture_output=True,
                         text=True, check=True).stdout
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    m = re.search(r"\(([^)]+)\)", fields.get("Source", ""))
    return fields["Package"], m.group(1) if m else fields["Version"]


def truth_of(debs: Iterable[Path],
             owner: dict[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """({component: upstream version}, {package: Debian version of its source}); `owner` maps
    each package name to its component (default: PACKAGES, Debian 12's names)."""
    owner = owner or {p: c for c, (packages, _) in PACKAGES.items() for p in packages}
    versions: dict[str, set[str]] = defaultdict(set)
    sources: dict[str, str] = {}
    for deb in debs:
        package, version = control_version(deb)
        sources[package] = version
        versions[owner[package]].add(upstream_version(version))
    truth = {}
    for component, found in versions.items():
        if len(found) != 1:
            raise SystemExit(f"{component}: its packages disagree on the upstream version: {sorted(found)}")
        truth[component] = found.pop()
    return truth, sources


# ---------------------------------------------------------------- scoring

@dataclass(frozen=True)
class Reported:
    """One (name, version) a tool reported; `names` are its name and CPE product(s)."""

    names: tuple[str, ...]
    version: str


@dataclass
class Score:
    pairs: dict[str, str] = field(default_factory=dict)           # component -> verdict
    versions: dict[str, list[str]] = field(default_factory=dict)  # component -> versions reported
    spurious: list[tuple[str, str]] = field(default_factory=list)
    bundled: list[tuple[str, str]] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for v in self.pairs.values() if v == verdict)


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _version(version: str) -> str:
    """A version as compared: no leading v, no trailing .0 (Debian's hostapd 2.9.0 is release 2.9)."""
    version = version.strip()
    version = version[1:] if re.match(r"^[vV]\d", version) else version
    return re.sub(r"(?<=\d)(?:\.0)+$", "", version) if re.fullmatch(r"\d+(?:\.\d+)+", version) else version


def aliases(packages: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = PACKAGES) -> dict[str, str]:
    """name (as `_key` spells it) -> component."""
    table: dict[str, str] = {}
    for component, (_, others) in packages.items():
        for name in (component, *others):
            table.setdefault(_key(name), component)
    return table


def score(truth: dict[str, str], reported: Iterable[Reported],
          bundled: dict[str, tuple[str, str, str]] | None = None,
          names: dict[str, str] | None = None) -> Score:
    """Judge one tool on one architecture: `truth` {component: version} against what it reported."""
    bundled = BUNDLED if bundled is None else bundled
    names = aliases() if names is None else names
    seen: dict[str, set[str]] = defaultdict(set)
    outside: set[tuple[str, str]] = set()
    for r in reported:
        component = next((names[_key(n)] for n in r.names if _key(n) in names), None)
        version = _version(r.version)
        if component is not None:
            seen[component].add(version)
        else:
            outside.add((r.names[0], r.version.strip()))
    result = Score()
    for component, right in sorted(truth.items()):
        right = _version(right)
        found = seen.get(component, set())
        result.versions[component] = sorted(found)
        if not found:
            verdict = "missed"
        elif right not in found:
            verdict = "wrong"
        else:
            verdict = "exact" if len(found) == 1 else "extra"
        result.pairs[component] = verdict
    for component in sorted(set(seen) - set(truth)):   # a name of the table whose package is absent
        outside.update((component, v) for v in seen[component])
    for name, version in sorted(outside):
        copy = bundled.get(_key(name)) or bundled.get(name)
        (result.bundled if copy and copy[1] == version else result.spurious).append((name, version))
    return result


# ---------------------------------------------------------------- packages

def _apt(suite: str = SUITE):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(REPO / "tests"))
    from aptstate import PrivateApt

    return PrivateApt(BUILD / ("apt" if suite == SUITE else f"apt-{suite}"), (suite,), SUITES[suite])


def _key_of(arch: str, suite: str) -> str:
    return arch if suite == SUITE else f"{suite}-{arch}"


def packages_of(suite: str) -> dict[str, str]:
    """{package name in `suite`: component}: Debian 12's names, else the same name with the
    t64 suffix (Debian 13's 64-bit time_t transition), else the newest of its family (the digits
    of the name free: python3.11-minimal -> python3.13-minimal), built for the architecture (not
    an `Architecture: all` package of the same name); a package none of these finds is left out,
    and said so."""
    if suite == SUITE:
        return {p: c for c, (packages, _) in PACKAGES.items() for p in packages}
    apt = _apt(suite)
    apt.update()
    arch = SUITES[suite][0]
    native = [*apt.options(), f"-o=APT::Architecture={arch}"]   # names of that architecture unqualified
    listed = subprocess.run(["apt-cache", *native, "pkgnames"], capture_output=True, text=True, check=True)
    shown = subprocess.run(["apt-cache", *native, "show", "--no-all-versions",
                            *sorted(set(listed.stdout.split()))], capture_output=True, text=True,
                           check=False).stdout
    names = {m.group(1) for m in re.finditer(r"^Package: (\S+)\n(?:.+\n)*?Architecture: (?!all\n)", shown,
                                             re.MULTILINE)}          # not Architecture: all
    found: dict[str, str] = {}
    for component, (packages, _) in PACKAGES.items():
        for package in packages:
            if package in names or f"{package}t64" in names:
                found[package if package in names else f"{package}t64"] = component
                continue
            family = re.compile(re.sub(r"\d+(?:\\\.\d+)*", r"[\\d.]+", re.escape(package)) + "(?:t64)?")
            candidates = sorted((n for n in names if family.fullmatch(n)),
                                key=lambda n: [int(x) for x in re.findall(r"\d+", n)])
            if candidates:
                found[candidates[-1]] = component
            else:
                print(f"{suite}: no package for {package} ({component})", file=sys.stderr)
    return found


def fetch(arch: str, suite: str = SUITE, owner: dict[str, str] | None = None) -> list[Path]:
    folder = BUILD / "debs" / _key_of(arch, suite)
    wanted = list(owner or packages_of(suite))
    have = {deb.name.split("_", 1)[0] for deb in folder.glob("*.deb")}
    missing = [p for p in wanted if p not in have]
    if missing:
        print(f"{suite} {arch}: apt-get download {len(missing)} packages", file=sys.stderr)
        _apt(suite).download([f"{p}:{arch}/{suite}" for p in missing], folder)
    debs = [deb for deb in sorted(folder.glob("*.deb")) if deb.name.split("_", 1)[0] in wanted]
    assert len(debs) == len(wanted), f"{arch}: {len(debs)} packages of {len(wanted)}"
    return debs


def unpack(arch: str, debs: list[Path], suite: str = SUITE) -> tuple[Path, Path]:
    """(folder, SquashFS) of the packages' files, made once."""
    root = BUILD / "root" / _key_of(arch, suite)
    image = BUILD / f"{_key_of(arch, suite)}.sqfs"
    stamp = root / ".packages"
    listing = "\n".join(deb.name for deb in debs)
    if not (stamp.is_file() and stamp.read_text() == listing and image.is_file()):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        image.unlink(missing_ok=True)
        subprocess.run(["mksquashfs", str(root), str(image), "-comp", "xz", "-noappend", "-quiet",
                        "-no-progress", "-all-root", "-e", ".packages"], check=True)
        stamp.write_text(listing)
    return root, image


# ---------------------------------------------------------------- firmproof

def run_firmproof(image: Path, out: Path) -> tuple[list[Reported], float]:
    exe = REPO / ".venv" / "bin" / "firmproof"
    start = time.monotonic()
    subprocess.run([str(exe), "scan", str(image), "--format", "sbom", "-o", str(out), "-q"], check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - start
    bom = json.loads(out.read_text())
    found = []
    for c in bom.get("components", []):
        names = [c["name"]]
        if c.get("cpe"):
            names.append(c["cpe"].split(":")[4])
        found.append(Reported(tuple(names), c.get("version", "")))
    return found, seconds


def identify_in_process(root: Path) -> tuple[list[Reported], float]:
    """The identification alone, in this process, over the unpacked folder (timed without the
    walk): what `--quick` scores, and the share of a scan identification costs."""
    sys.path.insert(0, str(REPO))
    from firmproof.device.components import identify
    from firmproof.fs.index import index_tree

    index = index_tree(root, None, ("bench",))
    start = time.monotonic()
    components = [c for view in index.views for c in identify(view)]
    seconds = time.monotonic() - start
    return [Reported((c.name, *([c.product] if c.product else [])), c.version) for c in components], seconds


# ---------------------------------------------------------------- cve-bin-tool

def cve_bin_tool() -> Path:
    """cve-bin-tool in its own venv under build/, installed once."""
    venv = BUILD / "cve-bin-tool"
    exe = venv / "bin" / "cve-bin-tool"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", CVE_BIN_TOOL], check=True)
    return exe


_SETUP = """
import sqlite3, time
from cve_bin_tool.cvedb import CVEDB
db = CVEDB()
db.cachedir.mkdir(parents=True, exist_ok=True)
db.init_database()
with sqlite3.connect(db.dbpath) as con:
    con.execute("INSERT OR REPLACE INTO cve_severity VALUES "
                "('CVE-0000-0000', 'NONE', 'placeholder: no vulnerability data', 0, 3, '', 'NVD', 0)")
with sqlite3.connect(db.cachedir / 'version_map.db') as con:
    con.execute('CREATE TABLE IF NOT EXISTS sqlite(version TEXT, sourceId TEXT PRIMARY KEY)')
    con.execute('CREATE TABLE IF NOT EXISTS latest_update_sqlite (datestamp DATETIME PRIMARY KEY)')
    con.execute('DELETE FROM latest_update_sqlite')
    con.execute('INSERT INTO latest_update_sqlite VALUES (?)', (time.time() + 10 * 365 * 86400,))
"""


def cve_bin_tool_home(exe: Path) -> Path:
    """A private HOME whose cve-bin-tool cache holds an empty vulnerability database made by its
    own CVEDB().init_database(), one placeholder row in cve_severity (--offline refuses an empty
    cache) and a version_map.db for its sqlite checker (which otherwise fetches a web page when it
    loads; its map stays empty, so it reads SQLite's version strings only)."""
    home = BUILD / "cve-bin-tool-home"
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(exe.parent / "python"), "-c", _SETUP], check=True, env=_cbt_env(home))
    return home


def _cbt_env(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
            "NO_COLOR": "1"}


def run_cve_bin_tool(exe: Path, home: Path, root: Path, out: Path) -> tuple[list[Reported], float]:
    """Its product list is its CycloneDX SBOM (its JSON report lists CVEs only)."""
    out.unlink(missing_ok=True)
    scratch = BUILD / "cve-bin-tool-cwd"
    scratch.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    proc = subprocess.run([str(exe), "--offline", "-u", "never", "--disable-version-check", "-l", "error",
                           "-f", "json", "-o", str(out.with_suffix(".cves.json")),
                           "--sbom-output", str(out), "--sbom-type", "cyclonedx", "--sbom-format", "json",
                           str(root)], env=_cbt_env(home), capture_output=True, text=True, check=False,
                          cwd=scratch)   # it also leaves an output.cve-bin-tool.<date>.json in its cwd
    seconds = time.monotonic() - start
    if not out.is_file():
        raise SystemExit(f"cve-bin-tool wrote no SBOM (exit {proc.returncode}): {proc.stderr[-800:]}")
    found = []
    for c in json.loads(out.read_text()).get("components", []):
        if "version" not in c or c["name"].startswith("CVEBINTOOL-"):   # its root component
            continue
        names = [c["name"]]
        if c.get("cpe"):   # cpe:/a:VENDOR:PRODUCT:VERSION
            names.append(c["cpe"].split(":")[3])
        found.append(Reported(tuple(names), c["version"]))
    return found, seconds


# ---------------------------------------------------------------- shared corpus: OpenWrt images

CORPUS = REPO.parent / "shared" / "corpus" / "real"
# OpenWrt package -> component, for packages whose version is the component's upstream release
OPKG_COMPONENTS = {
    "busybox": "busybox", "dropbear": "dropbear", "dnsmasq": "dnsmasq", "dnsmasq-full": "dnsmasq",
    "dnsmasq-dhcpv6": "dnsmasq", "libc": "libc", "kernel": "linux_kernel", "iptables": "iptables",
    "libxtables": "iptables", "libip4tc": "iptables", "libip6tc": "iptables", "ip6tables": "iptables",
    "lua": "lua", "liblua": "lua", "ppp": "pppd", "ppp-mod-pppoe": "pppd", "libjson-c": "json-c",
    "libopenssl": "openssl", "openssl-util": "openssl", "libmbedtls": "mbedtls", "libwolfssl": "wolfssl",
    "libcyassl": "wolfssl", "libcurl": "curl", "curl": "curl", "zlib": "zlib", "libpcap": "libpcap",
    "tcpdump": "tcpdump", "tcpdump-mini": "tcpdump", "miniupnpd": "miniupnpd", "lighttpd": "lighttpd",
    "samba36-server": "samba", "libsqlite3": "sqlite", "libexpat": "expat", "libxml2": "libxml2",
    "libpcre": "pcre", "libpcre2": "pcre2", "bash": "bash", "sudo": "sudo", "libgnutls": "gnutls",
    "xl2tpd": "xl2tpd", "openvpn-openssl": "openvpn", "openvpn-mbedtls": "openvpn", "hostapd": "hostapd",
    "wpa-supplicant": "wpa_supplicant", "wpad": "hostapd", "wpad-mini": "hostapd",
    "hostapd-mini": "hostapd", "wpa-supplicant-mini": "wpa_supplicant",
    "uboot-envtools": "u-boot", "libnl": "libnl", "iw": "iw",
    **dict.fromkeys(("libblkid", "libuuid", "libmount", "libsmartcols", "blkid", "losetup", "swap-utils",
                     "mount-utils", "fdisk", "cfdisk", "sfdisk", "lsblk", "hwclock", "flock", "dmesg"),
                    "util-linux"),
}
_RELEASE = re.compile(r"^\d+(?:\.\d+)+[a-z0-9]*$")     # 2.79rc1, 2017.75; not a 2016-06-15 snapshot
_STANZA = re.compile(r"^Package: *(\S+)\n(?:[^\n]+\n)*?Version: *(\S+)", re.MULTILINE)
CORPUS_NAMES = {"uclibc": "uclibc", "uclibc_ng": "uclibc", "musl": "musl", "linux_kernel": "linux_kernel",
                "libnl": "libnl", "iw": "iw"}


def opkg_truth(status: str) -> tuple[dict[str, str], set[str]]:
    """({component: upstream version}, components present without a release version) from an
    opkg status file: the revision dropped (`2.79rc1-1`), the kernel's up to its first `-`;
    libc is uClibc for 0.9.x, musl for 1.1/1.2.x, unknown otherwise (uClibc-ng also has 1.0.x)."""
    versions: dict[str, set[str]] = defaultdict(set)
    unversioned: set[str] = set()
    for package, version in _STANZA.findall(status):
        component = OPKG_COMPONENTS.get(package)
        if component is None:
            continue
        upstream = version.split("-", 1)[0] if package == "kernel" else version.rsplit("-", 1)[0]
        if component == "libc":
            component = ("uclibc" if upstream.startswith("0.9.") else
                         "musl" if re.match(r"1\.[12]\.", upstream) else "libc")
        if component != "libc" and _RELEASE.match(upstream):
            versions[component].add(upstream)
        else:
            unversioned.add(component)
    if "hostapd" in versions and any(p in status for p in ("Package: wpad", "Package: wpad-mini")):
        versions["wpa_supplicant"] |= versions["hostapd"]      # wpad is both
    truth = {c: v.pop() for c, v in versions.items() if len(v) == 1}
    unversioned |= {c for c, v in versions.items() if len(v) > 1}
    if any(p in status for p in ("Package: wpad\n", "Package: wpad-mini\n")) and "hostapd" in unversioned:
        unversioned.add("wpa_supplicant")
    return truth, unversioned - set(truth)


def corpus_images() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*") if p.suffix in (".bin", ".squashfs", ".img")
                  and not p.name.startswith(("android_", "apk_")))


def run_corpus_image(image: Path) -> tuple[dict[str, str], set[str], Path, list[Reported], float] | None:
    """Scan one image keeping its unpacked tree; None unless it carries an opkg status. firmproof's
    answer is its binary identifications only: the status file is the truth, not evidence."""
    work = BUILD / "corpus" / image.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out = work / "firmproof.cdx.json"
    start = time.monotonic()
    subprocess.run([str(REPO / ".venv" / "bin" / "firmproof"), "scan", str(image), "--format", "sbom", "-o",
                    str(out), "-q", "--workdir", str(work / "unpacked"), "--keep"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)   # 3: incomplete, still a report
    seconds = time.monotonic() - start
    statuses = sorted(work.glob("unpacked/*/x/*/tree/usr/lib/opkg/status"))
    if not statuses or not out.is_file():
        shutil.rmtree(work)
        return None
    truth, unversioned = opkg_truth(statuses[0].read_text(errors="replace"))
    found = []
    for c in json.loads(out.read_text()).get("components", []):
        props = {p["name"]: p["value"] for p in c.get("properties", [])}
        if props.get("firmproof:source") == "binary":
            names = [c["name"], *([c["cpe"].split(":")[4]] if c.get("cpe") else [])]
            found.append(Reported(tuple(names), c.get("version", "")))
    return truth, unversioned, next(work.glob("unpacked/*/x")), found, seconds


def without(reported: list[Reported], components: set[str], names: dict[str, str]) -> list[Reported]:
    """`reported` without what names one of `components` (present, but of no known version)."""
    return [r for r in reported if not any(names.get(_key(n)) in components for n in r.names)]


# ---------------------------------------------------------------- output

def table(results: dict[str, dict[str, Score]], seconds: dict[str, dict[str, float]],
          label: str = "arch") -> str:
    lines = ["| tool | pairs | exact | wrong | extra | missed | spurious | exact % | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for tool, per_arch in results.items():
        counts = {v: sum(s.count(v) for s in per_arch.values()) for v in VERDICTS}
        pairs = sum(len(s.pairs) for s in per_arch.values())
        spurious = sum(len(s.spurious) for s in per_arch.values())
        lines.append(f"| {tool} | {pairs} | **{counts['exact']}** | {counts['wrong']} | {counts['extra']} | "
                     f"{counts['missed']} | {spurious} | {100 * counts['exact'] / max(pairs, 1):.0f} % | "
                     f"{sum(seconds[tool].values()):.0f} |")
    lines += ["", f"| tool | {label} | exact | wrong | extra | missed | spurious | seconds |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for tool, per_arch in results.items():
        for arch, s in per_arch.items():
            cells = " | ".join(str(s.count(v)) for v in VERDICTS)
            lines.append(f"| {tool} | {arch} | {cells} | {len(s.spurious)} | {seconds[tool][arch]:.1f} |")
    return "\n".join(lines)


def details(truth: dict[str, dict[str, str]], results: dict[str, dict[str, Score]],
            label: str = "arch") -> str:
    tools = list(results)
    lines = [f"| component | {label} | truth | " + " | ".join(tools) + " |",
             "|---|---|---|" + "---|" * len(tools)]
    for arch, components in truth.items():
        for component, version in sorted(components.items()):
            cells = []
            for tool in tools:
                s = results[tool][arch]
                shown = ", ".join(s.versions[component]) or "—"
                cells.append(shown if s.pairs[component] == "exact" else f"{s.pairs[component]}: {shown}")
            lines.append(f"| {component} | {arch} | {version} | " + " | ".join(cells) + " |")
    for tool in tools:
        for arch, s in results[tool].items():
            for name, version in s.spurious:
                lines.append(f"| {name} | {arch} | (not in the set) | " + " | ".join(
                    f"spurious: {version}" if t == tool else "" for t in tools) + " |")
    return "\n".join(lines)


def run_corpus(cbt: tuple[Path, Path] | None, show_details: bool) -> dict[str, object]:
    names = {**aliases(), **CORPUS_NAMES}
    results: dict[str, dict[str, Score]] = defaultdict(dict)
    seconds: dict[str, dict[str, float]] = defaultdict(dict)
    truths: dict[str, dict[str, str]] = {}
    for image in corpus_images():
        ran = run_corpus_image(image)
        if ran is None:
            continue
        truth, unversioned, tree, found, seconds["firmproof"][image.name] = ran
        truths[image.name] = truth
        results["firmproof"][image.name] = score(truth, without(found, unversioned, names), {}, names)
        if cbt is not None:
            found, seconds["cve-bin-tool"][image.name] = run_cve_bin_tool(
                *cbt, tree, BUILD / "corpus" / image.name / "cve-bin-tool.cdx.json")
            results["cve-bin-tool"][image.name] = score(truth, without(found, unversioned, names), {}, names)
        print(f"{image.name}: done", file=sys.stderr)
    print(f"\nOpenWrt images of the shared corpus, against their opkg status ({len(truths)} images)\n")
    print(table(results, seconds, "image"))
    if show_details:
        print()
        print(details(truths, results, "image"))
    return {"truth": truths, "seconds": seconds,
            "results": {t: {i: asdict(s) for i, s in r.items()} for t, r in results.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=SUITES, default=SUITE,
                        help="Debian release (default bookworm; trixie: amd64, arm64, armhf; "
                             "bullseye: i386, arm64, armhf)")
    parser.add_argument("--arch", action="append", help="default: all of the suite's",
                        choices=sorted({a for arches in SUITES.values() for a in arches}))
    parser.add_argument("--details", action="store_true", help="one line per (component, architecture)")
    parser.add_argument("--json", type=Path, help="write every verdict here")
    parser.add_argument("--no-cve-bin-tool", action="store_true", help="firmproof only (faster)")
    parser.add_argument("--corpus", action="store_true",
                        help="also the OpenWrt images of the shared corpus, against their opkg status")
    parser.add_argument("--corpus-only", action="store_true", help="the shared corpus' images only")
    parser.add_argument("--quick", action="store_true",
                        help="firmproof's identification in process on the unpacked folders, no scan of the "
                             "SquashFS, no cve-bin-tool (seconds, for iterating on detectors)")
    args = parser.parse_args(argv)
    suite = args.suite
    arches = args.arch or list(SUITES[suite])
    if args.quick:
        args.no_cve_bin_tool = True
    if args.corpus_only:
        args.corpus, arches = True, []

    results: dict[str, dict[str, Score]] = defaultdict(dict)
    seconds: dict[str, dict[str, float]] = defaultdict(dict)
    truths: dict[str, dict[str, str]] = {}
    sources: dict[str, dict[str, str]] = {}
    identification: dict[str, float] = {}
    if not args.no_cve_bin_tool:
        exe = cve_bin_tool()
        home = cve_bin_tool_home(exe)
    owner = packages_of(suite) if arches else {}
    for arch in arches:
        debs = fetch(arch, suite, owner)
        truths[arch], sources[arch] = truth_of(debs, owner)
        for (release, component), (version, _) in BINARY_SAYS.items():
            if release == suite and component in truths[arch]:
                truths[arch][component] = version
        root, image = unpack(arch, debs, suite)
        found_here, identification[arch] = identify_in_process(root)
        if args.quick:
            results["firmproof identify()"][arch] = score(truths[arch], found_here)
            seconds["firmproof identify()"][arch] = identification[arch]
        else:
            out = BUILD / f"firmproof-{_key_of(arch, suite)}.cdx.json"
            found, seconds["firmproof"][arch] = run_firmproof(image, out)
            results["firmproof"][arch] = score(truths[arch], found)
        if not args.no_cve_bin_tool:
            found, seconds["cve-bin-tool"][arch] = run_cve_bin_tool(
                exe, home, root, BUILD / f"cve-bin-tool-{_key_of(arch, suite)}.cdx.json")
            results["cve-bin-tool"][arch] = score(truths[arch], found)
        print(f"{arch}: done", file=sys.stderr)

    revision = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, check=False).stdout.strip()
    print(f"firmproof at {revision or '?'}")
    if arches:
        print(f"\n{suite}: {', '.join(arches)}\n")
        print(table(results, seconds))
        print("\nfirmproof identification alone (in-process, over the unpacked folders): "
              + ", ".join(f"{a} {s:.1f} s" for a, s in identification.items()))
        said = [(c, v, why) for (release, c), (v, why) in sorted(BINARY_SAYS.items()) if release == suite]
        if said:
            print("\nTruth taken from the binaries, not the control files: "
                  + "; ".join(f"{c} {v} ({why})" for c, v, why in said))
        if args.details:
            print()
            print(details(truths, results))
    corpus: dict[str, object] = {}
    if args.corpus:
        corpus = run_corpus(None if args.no_cve_bin_tool else (exe, home), args.details)
    if args.json:
        args.json.write_text(json.dumps({
            "corpus": corpus,
            "firmproof": revision, "suite": suite, "truth": truths, "packages": sources,
            "seconds": seconds, "identification_seconds": identification,
            "results": {tool: {arch: asdict(s) for arch, s in per_arch.items()}
                        for tool, per_arch in results.items()},
        }, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
