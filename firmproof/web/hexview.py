"""The evidence's bytes as the report recorded them: its excerpt read back into bytes and shown
16 a line, as a hex editor shows them. (The report keeps the excerpt, not the bytes around it;
`firmproof verify` with the image re-reads the bytes themselves.)"""

from __future__ import annotations

import re

from firmproof.model import excerpt_of

_ESCAPE = re.compile(r"\\x([0-9a-f]{2})")


def excerpt_bytes(excerpt: str) -> bytes:
    """The bytes an excerpt shows (`firmproof.model.excerpt_of` backwards): text as ASCII, each
    `\\xNN` as its byte; the ellipsis of a cut excerpt is dropped. Where the text cannot be read
    back to itself (a literal backslash-x among other bytes), it is shown as UTF-8 text."""
    text = excerpt.removesuffix("…")
    data = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text).encode("latin-1", "replace")
    return data if excerpt_of(data) == text else text.encode()


def hex_lines(data: bytes, offset: int) -> list[tuple[str, str, str]]:
    """(offset, hex, text) per line of 16 bytes, the first line starting at `offset` of the file."""
    lines = []
    for start in range(0, len(data), 16):
        chunk = data[start:start + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append((f"{offset + start:08x}", hexes, text))
    return lines
