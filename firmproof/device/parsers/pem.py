"""PEM blocks anywhere in a file's bytes: a key file, a config, a script or an ELF binary.

A block runs from `-----BEGIN LABEL-----` to the matching `-----END LABEL-----`. Blocks
inside program sources or JSON often carry their line breaks as the two characters
`\\n`; those are read as line breaks. Headers (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`)
come before the base64 body. A block whose body is not base64 comes back with `der`
None: help text that merely mentions `-----BEGIN RSA PRIVATE KEY-----` is no key.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

MAX_BLOCK_BYTES = 256 * 1024

_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9][A-Z0-9 ]{0,60}[A-Z0-9])-----")
_ESCAPED_BREAK = re.compile(rb"\\r\\n|\\n|\\r")
_B64_LINE = re.compile(rb"[A-Za-z0-9+/=]+")
_HEADER = re.compile(rb"([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*)")


@dataclass(frozen=True)
class PemBlock:
    label: str                      # 'RSA PRIVATE KEY'
    start: int                      # offset of '-----BEGIN'
    end: int                        # offset just after the END marker
    headers: dict[str, str]         # 'Proc-Type' -> '4,ENCRYPTED'
    der: bytes | None               # the decoded body, None when it is not base64

    @property
    def is_private_key(self) -> bool:
        return self.label.endswith("PRIVATE KEY")

    def canonical(self) -> bytes:
        """The block re-wrapped as a PEM file that a library reads."""
        assert self.der is not None
        body = base64.encodebytes(self.der).replace(b"\n", b"")
        lines = [b"-----BEGIN " + self.label.encode() + b"-----"]
        lines += [f"{k}: {v}".encode() for k, v in self.headers.items()]
        if self.headers:
            lines.append(b"")
        lines += [body[i:i + 64] for i in range(0, len(body), 64)]
        lines.append(b"-----END " + self.label.encode() + b"-----")
        return b"\n".join(lines) + b"\n"


def find_pem_blocks(data: bytes, *, private_only: bool = False) -> list[PemBlock]:
    """Every PEM block of `data`, in order (with `private_only`, those whose label ends
    with 'PRIVATE KEY')."""
    blocks: list[PemBlock] = []
    pos = 0
    while True:
        idx = data.find(b"-----BEGIN ", pos)
        if idx < 0:
            return blocks
        m = _BEGIN.match(data, idx)
        if not m:
            pos = idx + 11
            continue
        label = m.group(1)
        if private_only and not label.endswith(b"PRIVATE KEY"):
            pos = m.end()
            continue
        end_marker = b"-----END " + label + b"-----"
        end = data.find(end_marker, m.end(), m.end() + MAX_BLOCK_BYTES)
        if end < 0:
            pos = m.end()
            continue
        headers, der = _body(data[m.end():end])
        blocks.append(PemBlock(label.decode("ascii"), idx, end + len(end_marker), headers, der))
        pos = end + len(end_marker)


def _body(raw: bytes) -> tuple[dict[str, str], bytes | None]:
    text = _ESCAPED_BREAK.sub(b"\n", raw).replace(b"\r", b"\n")
    headers: dict[str, str] = {}
    chunks: list[bytes] = []
    in_headers = True
    for line in text.split(b"\n"):
        line = line.strip()
        if not line:
            in_headers = False if headers else in_headers
            continue
        if in_headers and not chunks:
            h = _HEADER.fullmatch(line)
            if h and not _B64_LINE.fullmatch(line):
                headers[h.group(1).decode("latin-1")] = h.group(2).decode("latin-1").strip()
                continue
        in_headers = False
        if not _B64_LINE.fullmatch(line):
            return headers, None
        chunks.append(line)
    if not chunks:
        return headers, None
    try:
        der = base64.b64decode(b"".join(chunks), validate=True)
    except (binascii.Error, ValueError):
        return headers, None
    return headers, der or None
