"""Fuzzing the key parsers: the DER walker (der_length / der_children / der_inside), PEM block
search, the SSH formats (wire blobs, authorized_keys, OpenSSH container, Dropbear, PuTTY),
the key loaders of firmproof.device.keymaterial, and the key stores (PKCS#12, JKS, JCEKS).

Seeds are written here by openssl, ssh-keygen, dropbearkey, puttygen and keytool, encrypted
ones with the password the harnesses guess (so mutants still open and their contents are
parsed too).

Documented outcome: none of these raises on any input. The parsers return None (or leave a
line or a block out); the loaders return a KeyInfo or None; open_store returns a Keystore or
None; spans they report lie inside the input.
"""

from __future__ import annotations

import base64
import struct
from functools import partial
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from firmproof.analyzers.keys import _checked_type
from firmproof.device import keymaterial, keystores
from firmproof.device.parsers import jks, pem, sshkey

from .harness import Mutant, Seeds, examples, mutants, run_bounded
from .seeds import PASSWORD

GUESSES = ("", "admin", PASSWORD)
NOTHING: tuple[type[BaseException], ...] = ()


def scan_key_bytes(data: bytes) -> list[keymaterial.KeyInfo]:
    """What the keys analyzer does with one file's bytes (analyzers/keys.py _KeyScan), with the
    parsers and loaders it calls."""
    found: list[keymaterial.KeyInfo] = []
    for block in pem.find_pem_blocks(data):
        assert 0 <= block.start < block.end <= len(data)
        info = keymaterial.load_pem_block(block, GUESSES)
        if info is not None:
            found.append(info)
    if data.startswith(b"PuTTY-User-Key-File-"):
        ppk = sshkey.parse_putty(data.decode("latin-1"))
        if ppk is not None:
            assert ppk.length <= len(data)
            if (info := keymaterial.load_putty(ppk)) is not None:
                found.append(info)
    if sshkey.looks_like_dropbear(data):
        dropbear = sshkey.parse_dropbear(data)
        if dropbear is not None:
            assert dropbear.length <= len(data)
            if (info := keymaterial.load_dropbear(dropbear)) is not None:
                found.append(info)
    if data[:1] == b"\x30":
        total = keymaterial.der_length(data)
        if total is not None:
            assert total <= len(data)
            if (info := keymaterial.load_der(data[:total], GUESSES)) is not None:
                found.append(info)
    text = data.decode("latin-1")
    for key in sshkey.parse_authorized_keys(text):
        assert 0 <= key.start <= key.end <= len(text)
        _checked_type(key)
    return found


SMALL_FIELDS = (b"", b"\x00", b"\x01", b"\x02", b"\x03", b"\x7f", b"\x80", b"\x00\x80", b"\xff" * 8,
                b"\x01" + bytes(64), b"ssh-rsa", b"ssh-dss", b"nistp256", b"ssh-ed25519", bytes(32),
                bytes(64))


def wire_fields(blob: bytes) -> tuple[list[bytes], bytes]:
    """The SSH wire strings `blob` starts with, and the bytes after the last one (padding)."""
    reader = sshkey.Reader(blob)
    fields: list[bytes] = []
    while True:
        start = reader.pos
        try:
            fields.append(reader.string())
        except sshkey.WireError:
            return fields, blob[start:]


@st.composite
def wire_mutants(draw: Any, blobs: dict[str, bytes]) -> Mutant:
    """A wire-encoded blob with whole fields edited: a field replaced by a small number or a
    name, by another of its fields (p = n), dropped, doubled, or one byte of it changed; then
    encoded again. What random byte edits almost never make: keys whose numbers are valid
    encodings but absurd values."""
    name = draw(st.sampled_from(sorted(blobs)))
    fields, tail = wire_fields(blobs[name])
    edits: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(1, 4))):
        if not fields:
            break
        i = draw(st.integers(0, len(fields) - 1))
        kind = draw(st.sampled_from(("small", "copy", "drop", "double", "byte")))
        if kind == "small":
            fields[i] = draw(st.sampled_from(SMALL_FIELDS))
        elif kind == "copy":
            fields[i] = fields[draw(st.integers(0, len(fields) - 1))]
        elif kind == "drop":
            del fields[i]
        elif kind == "double":
            fields.insert(i, fields[i])
        elif fields[i]:
            at = draw(st.integers(0, len(fields[i]) - 1))
            fields[i] = fields[i][:at] + bytes([draw(st.integers(0, 255))]) + fields[i][at + 1:]
        edits.append((kind, i))
    blob = b"".join(struct.pack(">I", len(f)) + f for f in fields) + tail
    return Mutant(blob, name, edits)


def _walk_der(data: bytes, start: int, end: int, depth: int = 0) -> None:
    for tag, at, content, stop in keymaterial.der_children(data, start, end):
        assert start <= at < content <= stop <= end, (start, at, content, stop, end)
        if tag & 0x20 and depth < 8:
            inner = keymaterial.der_inside(data, at)
            for _tag, a, c, s in inner:
                assert content <= a < c <= s <= stop
            _walk_der(data, content, stop, depth + 1)


def _key_windows(seed: bytes) -> list[tuple[int, int]]:
    return [(0, len(seed))]


def _ppk(text: bytes, public: bytes, private: bytes) -> bytes:
    """A PuTTY key file `text` with its public and private blobs replaced."""
    out: list[bytes] = []
    lines = text.split(b"\n")
    i = 0
    while i < len(lines):
        key, _, value = lines[i].partition(b": ")
        if key in (b"Public-Lines", b"Private-Lines"):
            blob = base64.b64encode(public if key == b"Public-Lines" else private)
            chunks = [blob[j:j + 64] for j in range(0, len(blob), 64)]
            out.append(key + b": " + str(len(chunks)).encode())
            out.extend(chunks)
            i += 1 + int(value)
            continue
        out.append(lines[i])
        i += 1
    return b"\n".join(out)


def _decoded(key_seeds: dict[str, bytes]) -> dict[str, bytes]:
    """The binary bodies of the seeds: PEM bodies, PuTTY public and private blobs."""
    out: dict[str, bytes] = {}
    for name, blob in key_seeds.items():
        for block in pem.find_pem_blocks(blob):
            if block.der:
                out[name] = block.der
        if blob.startswith(b"PuTTY"):
            ppk = sshkey.parse_putty(blob.decode("latin-1"))
            assert ppk is not None, name
            out[f"{name}:public"], out[f"{name}:private"] = ppk.public_blob, ppk.private_blob
    return out


def _reencoded(key_seeds: dict[str, bytes], name: str, body: bytes) -> bytes:
    """Seed `name` with its binary body (or one PuTTY blob) replaced by `body`."""
    base, _, part = name.partition(":")
    original = key_seeds[base]
    if original.startswith(b"PuTTY"):
        ppk = sshkey.parse_putty(original.decode("latin-1"))
        assert ppk is not None
        if part == "public":
            return _ppk(original, body, ppk.private_blob)
        return _ppk(original, ppk.public_blob, body)
    block = pem.find_pem_blocks(original)[0]
    return pem.PemBlock(block.label, 0, 0, block.headers, body).canonical()


@settings(max_examples=examples(1000))
@given(data=st.data())
def test_key_files(key_seeds: dict[str, bytes], data: st.DataObject) -> None:
    """Edits of the files as written (text, base64, binary Dropbear files)."""
    blob = data.draw(mutants(key_seeds, head=(0, 256), windows=_key_windows))
    found = run_bounded(lambda: scan_key_bytes(blob), NOTHING)
    assert isinstance(found, list)


@settings(max_examples=examples(1250))
@given(data=st.data())
def test_key_bodies(key_seeds: dict[str, bytes], data: st.DataObject) -> None:
    """Edits of what the files encode (DER, OpenSSH containers, PuTTY blobs), encoded again so
    that the edits reach the key parsers and loaders behind base64."""
    bodies = Seeds(_decoded(key_seeds))
    body = data.draw(mutants(bodies, head=(0, 128), windows=_key_windows))
    text = _reencoded(key_seeds, body.seed, body)
    found = run_bounded(lambda: scan_key_bytes(text), NOTHING)
    assert isinstance(found, list)


@settings(max_examples=examples(1000))
@given(data=st.data())
def test_key_fields(key_seeds: dict[str, bytes], data: st.DataObject) -> None:
    """Field-level edits of the wire-encoded keys: Dropbear files and PuTTY blobs."""
    blobs = {name: blob for name, blob in key_seeds.items() if name.startswith("dropbearkey")}
    blobs.update({name: body for name, body in _decoded(key_seeds).items() if name.startswith("puttygen")})
    blob = data.draw(wire_mutants(blobs))
    text = blob if blob.seed.startswith("dropbearkey") else _reencoded(key_seeds, blob.seed, blob)
    found = run_bounded(lambda: scan_key_bytes(text), NOTHING)
    assert isinstance(found, list)


@settings(max_examples=examples(1000))
@given(data=st.data())
def test_der_keys(key_seeds: dict[str, bytes], store_seeds: dict[str, bytes], data: st.DataObject) -> None:
    ders = {name: blob for name, blob in {**key_seeds, **store_seeds}.items() if blob[:1] == b"\x30"}
    for name, blob in key_seeds.items():
        for block in pem.find_pem_blocks(blob):
            if block.der:
                ders[f"{name}:{block.label}"] = block.der
    blob = data.draw(mutants(ders, head=(0, 64), windows=_key_windows))
    run_bounded(lambda: _walk_der(blob, 0, len(blob)), NOTHING)
    start = data.draw(st.integers(0, len(blob)))
    end = data.draw(st.integers(0, len(blob) + 8))
    run_bounded(lambda: _walk_der(blob, start, end), NOTHING)
    run_bounded(lambda: keymaterial.load_der(blob, GUESSES), NOTHING)


@settings(max_examples=examples(750))
@given(data=st.data())
def test_ssh_wire_blobs(key_seeds: dict[str, bytes], data: st.DataObject) -> None:
    blobs: dict[str, bytes] = {}
    for name, text in key_seeds.items():
        if name.endswith(".pub"):
            blobs[name] = base64.b64decode(text.split()[1])
        for block in pem.find_pem_blocks(text):
            if block.label == "OPENSSH PRIVATE KEY" and block.der:
                blobs[name] = block.der
    blob = data.draw(mutants(blobs, head=(0, 128), windows=_key_windows))
    run_bounded(lambda: sshkey.key_type_of_blob(blob), NOTHING)
    if blob.seed.endswith(".pub"):
        key_type = key_seeds[blob.seed].split()[0].decode()
        line = f"{key_type} {base64.b64encode(blob).decode()} fuzz@host\n"
        for key in sshkey.parse_authorized_keys(line):
            run_bounded(partial(_checked_type, key), NOTHING)
    container = run_bounded(lambda: sshkey.parse_openssh_private(blob), NOTHING)
    if isinstance(container, sshkey.OpenSSHKey):
        block = pem.PemBlock("OPENSSH PRIVATE KEY", 0, 0, {}, blob)
        run_bounded(lambda: keymaterial.load_pem_block(block, GUESSES), NOTHING)


@settings(max_examples=examples(380))
@given(data=st.data())
def test_key_stores(store_seeds: dict[str, bytes], data: st.DataObject) -> None:
    blob = data.draw(mutants(store_seeds, head=(0, 128), windows=_key_windows))
    fmt = run_bounded(lambda: keystores.store_format(blob), NOTHING)
    store = run_bounded(lambda: keystores.open_store(blob, GUESSES, 0.5), NOTHING)
    if fmt is None:
        assert store is None
    if isinstance(store, keystores.Keystore):
        assert 0 < store.length <= len(blob)
        for key in store.keys:
            assert 0 <= key.offset and key.offset + key.length <= len(blob)
    parsed = run_bounded(lambda: jks.parse_keystore(blob), NOTHING)
    if isinstance(parsed, jks.JavaKeyStore):
        for entry in parsed.entries:
            assert 12 <= entry.start < entry.end <= len(blob)
            run_bounded(partial(keystores.jceks_iterations, entry.protected_key), NOTHING)
            run_bounded(partial(keystores.unprotect_key, entry.protected_key, PASSWORD), NOTHING)


@settings(max_examples=examples(750))
@given(text=st.text(alphabet=st.sampled_from(list("ssh-rsa ecdsa-sha2-nistp256 AAAAB3Nza1yc2E=\"\\\t#\n\r,"
                                                   "command=from@openssh.com-cert-v01")), max_size=300))
def test_authorized_keys_lines(text: str) -> None:
    keys = run_bounded(lambda: sshkey.parse_authorized_keys(text), NOTHING)
    assert isinstance(keys, list)
    for key in keys:
        assert 0 <= key.start <= key.end <= len(text)


@settings(max_examples=examples(750))
@given(data=st.data())
def test_pem_blocks(key_seeds: dict[str, bytes], data: st.DataObject) -> None:
    texts = {name: blob for name, blob in key_seeds.items() if b"-----BEGIN" in blob}
    blob = data.draw(mutants(texts, head=(0, 64), windows=_key_windows))
    escaped = blob.replace(b"\n", b"\\n") if data.draw(st.booleans()) else blob
    for text in (blob, escaped):
        blocks = run_bounded(partial(pem.find_pem_blocks, text), NOTHING)
        assert isinstance(blocks, list)
        for block in blocks:
            assert 0 <= block.start < block.end <= len(text)
            run_bounded(partial(keymaterial.load_pem_block, block, GUESSES), NOTHING)
