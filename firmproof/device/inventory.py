"""The security inventory of an unpacked image: what a lab compares between two releases.

Accounts (and a digest of each password field), commands started at boot, listening
daemons, setuid/setgid files, key fingerprints, ELF executables and every regular file by
sha256. A UPX-packed program is an executable at its path in the file system, by the sha256
of its packed bytes, with the sha256 of the program `upx -d` gave back (or marked not
unpacked); the layer that holds the unpacked program is not listed again. Each section maps
a stable key (the path inside the root file system, or the user name) to a short value, so
that two inventories compare key by key.

Paths of the main root file system (the biggest view that looks like a root) are keyed as
they are; files of any other view are keyed with the container chain in brackets.

`holdings` is the same reading as the results store keeps it: typed records (keys,
executables, boot entries, setuid files) with the path and container chain a finding has.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from firmproof.device.bootchain import walk
from firmproof.device.keymaterial import load_pem_block
from firmproof.device.packed import PACKER, Unpacked, unpacked_programs
from firmproof.device.parsers.passwd import parse_passwd, parse_shadow
from firmproof.device.parsers.pem import find_pem_blocks
from firmproof.device.parsers.sshkey import fingerprint, parse_authorized_keys
from firmproof.fs.filetype import ELF, PACKED, PRIVATE_KEY, PUBLIC_KEY, SCRIPT, TEXT
from firmproof.fs.rootfs import FILE, FileEntry, RootFS
from firmproof.unpack.driver import Layer, chain_label

SECTIONS = ("accounts", "boot", "listening", "setuid", "keys", "executables", "files")
LISTENERS = frozenset({
    "telnetd", "utelnetd", "dropbear", "sshd", "httpd", "uhttpd", "lighttpd", "nginx", "boa",
    "goahead", "mini_httpd", "thttpd", "inetd", "xinetd", "nc", "netcat", "ncat", "socat", "tftpd",
    "ftpd", "vsftpd", "smbd", "dnsmasq", "miniupnpd", "adbd", "rshd", "rlogind", "snmpd", "tr069",
    "cwmpd", "dhcpd", "udhcpd", "tddp"})
MAX_TEXT_BYTES = 256 * 1024      # text files kept for a line diff
MAX_KEY_BYTES = 1024 * 1024


@dataclass
class Inventory:
    sections: dict[str, dict[str, str]] = field(default_factory=lambda: {s: {} for s in SECTIONS})
    texts: dict[str, bytes] = field(default_factory=dict)   # small text files, for line diffs

    def to_json(self) -> dict[str, Any]:
        return {name: dict(sorted(items.items())) for name, items in self.sections.items()}


def _main_root(views: list[RootFS]) -> RootFS | None:
    roots = [v for v in views if v.is_root]
    return max(roots, key=len) if roots else None


def inventory(layers: Iterable[Layer]) -> Inventory:
    """The inventory of every view of every layer."""
    layers = list(layers)
    views = [view for layer in layers for view in layer.index.views]
    main = _main_root(views)
    # files that were unpacked further: their content is compared inside, not as one blob
    unpacked = {(layer.container[:-2], layer.container[-2]) for layer in layers if len(layer.container) > 2}
    programs = unpacked_programs(views)
    listed = {id(p.view) for p in programs.values()}      # listed at the packed file's path
    inv = Inventory()
    for view in views:
        if id(view) in listed:
            continue
        prefix = "" if view is main else f"[{chain_label(view.container)}{_view_prefix(view)}] "
        _collect(view, prefix, inv, unpacked, programs)
    return inv


def packed_value(digest: str, program: Unpacked | None) -> str:
    """A packed program's value in the executables section: both hashes, or not unpacked."""
    if program is None:
        return f"{digest} {PACKER}-packed, not unpacked"
    return f"{digest} {PACKER}-packed, unpacked {program.sha256}"


def _view_prefix(view: RootFS) -> str:
    entry = view.entry("/")
    return entry.report_path.rstrip("/") if entry is not None and entry.report_path != "/" else ""


def _collect(fs: RootFS, prefix: str, inv: Inventory, unpacked: set[tuple[tuple[str, ...], str]],
             programs: dict[tuple[tuple[str, ...], str], Unpacked]) -> None:
    sec = inv.sections
    for entry in fs.entries():
        if entry.kind == FILE and entry.ftype == PACKED:
            digest = fs.sha256(entry.path)
            sec["files"][prefix + entry.path] = digest
            sec["executables"][prefix + entry.path] = packed_value(
                digest, programs.get((fs.container, entry.report_path)))
        elif entry.kind == FILE and (fs.container, entry.report_path) not in unpacked:
            digest = fs.sha256(entry.path)
            sec["files"][prefix + entry.path] = digest
            if entry.ftype == ELF:
                sec["executables"][prefix + entry.path] = digest
            if entry.ftype in (TEXT, SCRIPT) and entry.size <= MAX_TEXT_BYTES:
                data = fs.read(entry.path)
                if data is not None:
                    inv.texts[prefix + entry.path] = data
        if entry.kind == FILE and (entry.is_setuid or entry.is_setgid):
            sec["setuid"][prefix + entry.path] = f"{entry.mode_string()} uid={entry.uid} gid={entry.gid}"
    if fs.is_root:
        _accounts(fs, prefix, sec["accounts"])
        _boot(fs, prefix, sec["boot"], sec["listening"])
    _keys(fs, prefix, sec["keys"])


def _accounts(fs: RootFS, prefix: str, out: dict[str, str]) -> None:
    passwd = fs.text("/etc/passwd") or ""
    shadow = {a.name: a for a in parse_shadow(fs.text("/etc/shadow") or "")}
    for account in parse_passwd(passwd):
        secret = shadow[account.name].password.value if account.name in shadow else account.password.value
        state = shadow[account.name].password_state() if account.name in shadow else account.password_state()
        digest = hashlib.sha256(secret.encode("latin-1")).hexdigest()[:16]
        out[prefix + account.name] = (f"uid={account.uid} shell={account.shell} password={state} "
                                      f"hash-digest={digest}")


def _boot(fs: RootFS, prefix: str, boot: dict[str, str], listening: dict[str, str]) -> None:
    for step in walk(fs).steps:
        command = " ".join(step.argv)
        key = f"{prefix}{step.path}: {command}"
        boot[key] = f"{step.via} via {' > '.join(step.chain)}"
        if step.name in LISTENERS or step.port is not None:
            listening[f"{prefix}{step.name}: {command}"] = (f"port {step.port}" if step.port is not None
                                                            else f"started from {step.path}")


def _keys(fs: RootFS, prefix: str, out: dict[str, str]) -> None:
    for entry, n, kind, key_type, fp, comment, _offset in _found_keys(fs):
        if kind == "authorized":
            out[f"{prefix}{entry.path}#{n}"] = f"{key_type} {fp} {comment}".strip()
        else:
            out[f"{prefix}{entry.path}#{n}"] = f"{key_type} {fp}"


def _found_keys(fs: RootFS) -> Iterator[tuple[FileEntry, int, str, str, str | None, str, int]]:
    """(file, number in the file, 'authorized' or 'private', type, fingerprint, comment,
    offset) of every authorized key line and every private key (PEM) of `fs`."""
    for entry in fs.files():
        if entry.size > MAX_KEY_BYTES:
            continue
        if entry.path.endswith(("authorized_keys", "authorized_keys2")):
            for n, key in enumerate(parse_authorized_keys(fs.text(entry.path) or "")):
                yield entry, n, "authorized", key.key_type, fingerprint(key.blob), key.comment, key.start
        elif entry.ftype in (PRIVATE_KEY, PUBLIC_KEY):
            data = fs.read(entry.path) or b""
            for n, block in enumerate(find_pem_blocks(data, private_only=True)):
                info = load_pem_block(block)
                if info is not None:
                    yield entry, n, "private", info.type, info.fingerprint, info.comment or "", block.start


# ---------------------------------------------------------------- as the results store keeps it


@dataclass(frozen=True)
class ShippedKey:
    """A private key or an authorized key line an image ships, whether or not a rule fired."""

    fingerprint: str | None         # OpenSSH's 'SHA256:…' of the public half (None: sealed)
    kind: str                       # 'private' or 'authorized'
    type: str                       # 'rsa-2048', 'ssh-ed25519'…
    path: str                       # where, as a finding's path (inside its container)
    container: tuple[str, ...]
    number: int                     # the n-th key of that file
    offset: int                     # where in the file it starts
    comment: str = ""


@dataclass(frozen=True)
class Executable:
    """An ELF file (not unpacked further), by its bytes. A packed program (`packer` 'upx') is
    the file in the file system, by its packed bytes; `unpacked_sha256` is the program
    `upx -d` gave back for it, None when it could not be unpacked."""

    sha256: str
    path: str
    container: tuple[str, ...]
    size: int
    packer: str | None = None
    unpacked_sha256: str | None = None


@dataclass(frozen=True)
class BootEntry:
    """A command started at boot (or by cron, inetd…), from which file and line."""

    file: str                       # the file that holds the line
    offset: int                     # where the line starts in it
    command: str                    # argv, joined by spaces
    name: str                       # argv[0]'s base name: 'telnetd'
    binary: str | None              # the regular file that runs, if it is in the image
    binary_sha256: str | None
    via: str                        # inittab | init | script | systemd | inetd | xinetd | cron | procd
    chain: tuple[str, ...]          # how boot reaches `file`
    port: int | None                # where an inetd/xinetd/socket service listens
    listener: bool                  # a known network daemon, or a declared port
    container: tuple[str, ...]


@dataclass(frozen=True)
class SetuidFile:
    path: str
    container: tuple[str, ...]
    mode: int                       # permission bits, setuid and setgid included
    uid: int | None
    gid: int | None
    sha256: str


@dataclass(frozen=True)
class Holdings:
    """The inventory as the results store keeps it, one row each: keys, executables, boot
    entries (listeners marked), setuid files. Small and picklable (no file contents, no
    list of every file), so that a batch worker hands it back with the report."""

    keys: tuple[ShippedKey, ...] = ()
    executables: tuple[Executable, ...] = ()
    boot: tuple[BootEntry, ...] = ()
    setuid: tuple[SetuidFile, ...] = ()


def holdings(layers: Iterable[Layer]) -> Holdings:
    """What every view of every layer holds, with paths and containers as findings have them."""
    layers = list(layers)
    unpacked = {(layer.container[:-2], layer.container[-2]) for layer in layers if len(layer.container) > 2}
    views = [view for layer in layers for view in layer.index.views]
    programs = unpacked_programs(views)
    listed = {id(p.view) for p in programs.values()}      # listed at the packed file's path
    keys: list[ShippedKey] = []
    executables: list[Executable] = []
    boot: list[BootEntry] = []
    setuid: list[SetuidFile] = []
    for view in (v for v in views if id(v) not in listed):
        def where(path: str, fs: RootFS = view) -> tuple[tuple[str, ...], str]:
            entry = fs.entry(path)
            container, report_path = fs.relocate(entry.report_path if entry is not None else path)
            return tuple(container), report_path

        for entry in view.entries():
            if entry.kind != FILE:
                continue
            container, path = where(entry.path)
            if entry.ftype == PACKED:
                program = programs.get((view.container, entry.report_path))
                executables.append(Executable(view.sha256(entry.path), path, container, entry.size, PACKER,
                                              program.sha256 if program is not None else None))
            elif entry.ftype == ELF and (view.container, entry.report_path) not in unpacked:
                executables.append(Executable(view.sha256(entry.path), path, container, entry.size))
            if entry.is_setuid or entry.is_setgid:
                setuid.append(SetuidFile(path, container, entry.mode, entry.uid, entry.gid,
                                         view.sha256(entry.path)))
        for entry, n, kind, key_type, fp, comment, offset in _found_keys(view):
            container, path = where(entry.path)
            keys.append(ShippedKey(fp, kind, key_type, path, container, n, offset, comment))
        if view.is_root:
            for step in walk(view).steps:
                container, path = where(step.path)
                binary = view.stat(step.binary) if step.binary else None
                boot.append(BootEntry(
                    path, step.start, " ".join(step.argv), step.name,
                    where(binary.path)[1] if binary is not None else None,
                    view.sha256(binary.path) if binary is not None and binary.kind == FILE else None,
                    step.via, tuple(step.chain), step.port,
                    step.name in LISTENERS or step.port is not None, container))
    return Holdings(tuple(keys), tuple(executables), tuple(boot), tuple(setuid))
