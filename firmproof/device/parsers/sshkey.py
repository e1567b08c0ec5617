"""SSH key formats, parsed without any cryptography: what the bytes say, checked by the caller.

- the SSH wire encoding (RFC 4251: uint32-length strings and mpints) of public key blobs;
- authorized_keys lines: `[options] type base64 [comment]`, with byte spans;
- the OpenSSH private key container (`openssh-key-v1`, the body of an
  `OPENSSH PRIVATE KEY` PEM block): cipher, KDF, public blob, and the private section
  when it is not encrypted;
- Dropbear's own key files (`/etc/dropbear/dropbear_rsa_host_key`): the wire encoding of
  the key type followed by its public and private numbers;
- PuTTY `.ppk` files (versions 2 and 3): public blob, encryption, private blob.

Every function returns None (or leaves a line out) on malformed input; nothing raises.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass, field

from firmproof.device.parsers._lines import lines

MAX_FIELD = 1 << 20
OPENSSH_MAGIC = b"openssh-key-v1\x00"
ECDSA_CURVES = {"nistp256": 256, "nistp384": 384, "nistp521": 521}
KEY_TYPES = frozenset({
    "ssh-rsa", "ssh-dss", "ssh-ed25519", "ssh-ed448", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ssh-ed25519@openssh.com",
})
_CERT_TYPE = re.compile(r"[a-z0-9@.-]+-cert-v01@openssh\.com")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
# number of wire fields after the type name in a private key, per type (OpenSSH layout)
_OPENSSH_PRIVATE_FIELDS = {"ssh-rsa": 6, "ssh-dss": 5, "ssh-ed25519": 2, "ecdsa-sha2-nistp256": 3,
                           "ecdsa-sha2-nistp384": 3, "ecdsa-sha2-nistp521": 3,
                           "sk-ecdsa-sha2-nistp256@openssh.com": 6, "sk-ssh-ed25519@openssh.com": 5}


class WireError(ValueError):
    pass


class Reader:
    """Reads SSH wire fields from bytes."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def uint32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise WireError("truncated uint32")
        (value,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return int(value)

    def string(self) -> bytes:
        n = self.uint32()
        if n > MAX_FIELD or self.pos + n > len(self.data):
            raise WireError("truncated string")
        value = self.data[self.pos:self.pos + n]
        self.pos += n
        return value

    def mpint(self) -> int:
        raw = self.string()
        if raw[:1] and raw[0] & 0x80:
            raise WireError("negative mpint")
        return int.from_bytes(raw, "big")

    def text(self) -> str:
        return self.string().decode("latin-1")

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob: 'SHA256:' + unpadded base64."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def key_type_of_blob(blob: bytes) -> str | None:
    """'rsa-2048', 'dsa-1024', 'ecdsa-p256', 'ed25519', 'ecdsa-sk-p256', 'ed25519-sk' or the
    type name plus '-cert' for certificates; None for a blob that does not parse."""
    try:
        r = Reader(blob)
        name = r.text()
        if _CERT_TYPE.fullmatch(name):
            r.string()                                # nonce
            base = name.replace("-cert-v01@openssh.com", "")
            return (_public_type(base, r) or base) + "-cert"
        return _public_type(name, r)
    except WireError:
        return None


def _public_type(name: str, r: Reader) -> str | None:
    if name == "ssh-rsa":
        r.mpint()                                     # e
        return f"rsa-{r.mpint().bit_length()}"
    if name == "ssh-dss":
        return f"dsa-{r.mpint().bit_length()}"
    if name.startswith("ecdsa-sha2-"):
        curve = r.text()
        if curve not in ECDSA_CURVES or name != f"ecdsa-sha2-{curve}":
            return None
        return f"ecdsa-p{ECDSA_CURVES[curve]}"
    if name == "ssh-ed25519":
        return "ed25519" if len(r.string()) == 32 else None
    if name == "ssh-ed448":
        return "ed448" if len(r.string()) == 57 else None
    if name == "sk-ecdsa-sha2-nistp256@openssh.com":
        return "ecdsa-sk-p256" if r.text() == "nistp256" else None
    if name == "sk-ssh-ed25519@openssh.com":
        return "ed25519-sk" if len(r.string()) == 32 else None
    return None


# -- authorized_keys -----------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizedKey:
    lineno: int
    start: int                  # the line, leading and trailing blanks left out
    end: int
    options: str
    key_type: str               # the name on the line: 'ssh-ed25519'
    blob: bytes
    comment: str


def _tokens(line: str) -> list[tuple[int, int]]:
    """Spans of blank-separated tokens; double quotes keep blanks inside a token."""
    spans: list[tuple[int, int]] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        start = i
        quoted = False
        while i < n and (quoted or line[i] not in " \t"):
            if line[i] == "\\" and i + 1 < n:
                i += 2
                continue
            if line[i] == '"':
                quoted = not quoted
            i += 1
        spans.append((start, i))
    return spans


def _is_key_type(word: str) -> bool:
    return word in KEY_TYPES or bool(_CERT_TYPE.fullmatch(word))


def parse_authorized_keys(text: str) -> list[AuthorizedKey]:
    """Key lines of an authorized_keys file; comments, blank and malformed lines are left out."""
    out: list[AuthorizedKey] = []
    for lineno, start, _end, line in lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        lead = len(line) - len(line.lstrip())
        spans = _tokens(line)
        words = [line[a:b] for a, b in spans]
        idx = next((i for i, w in enumerate(words[:2]) if _is_key_type(w)), None)
        if idx is None or idx + 1 >= len(words):
            continue
        key_type, encoded = words[idx], words[idx + 1]
        if not _B64.fullmatch(encoded):
            continue
        try:
            blob = base64.b64decode(encoded, validate=True)
            name = Reader(blob).text()
        except (binascii.Error, ValueError):
            continue
        if name != key_type:
            continue
        comment = line[spans[idx + 2][0]:].strip() if len(spans) > idx + 2 else ""
        out.append(AuthorizedKey(lineno, start + lead, start + len(line.rstrip()),
                                 words[0] if idx == 1 else "", key_type, blob, comment))
    return out


# -- OpenSSH private key container -------------------------------------------------------


@dataclass(frozen=True)
class OpenSSHKey:
    cipher: str                     # 'none', 'aes256-ctr', …
    kdf: str                        # 'none', 'bcrypt'
    public_blob: bytes
    private: bytes | None = None    # the private section when not encrypted
    comment: str | None = None

    @property
    def encrypted(self) -> bool:
        return self.cipher != "none"


def parse_openssh_private(body: bytes) -> OpenSSHKey | None:
    """The `openssh-key-v1` container (the decoded body of an OPENSSH PRIVATE KEY block)."""
    if not body.startswith(OPENSSH_MAGIC):
        return None
    try:
        r = Reader(body, len(OPENSSH_MAGIC))
        cipher, kdf = r.text(), r.text()
        r.string()                                    # kdf options
        if r.uint32() != 1:
            return None
        public = r.string()
        private = r.string()
    except WireError:
        return None
    if key_type_of_blob(public) is None:
        return None
    if cipher != "none":
        return OpenSSHKey(cipher, kdf, public)
    return OpenSSHKey(cipher, kdf, public, private, _openssh_comment(private))


def _openssh_comment(private: bytes) -> str | None:
    try:
        r = Reader(private)
        if r.uint32() != r.uint32():                  # the two check integers
            return None
        name = r.text()
        for _ in range(_OPENSSH_PRIVATE_FIELDS.get(name, -1)):
            r.string()
        if name not in _OPENSSH_PRIVATE_FIELDS:
            return None
        return r.string().decode("utf-8", "replace")
    except WireError:
        return None


# -- Dropbear key files ---------------------------------------------------------------------


@dataclass(frozen=True)
class DropbearKey:
    """A Dropbear private key: the type name and its numbers in file order
    (rsa: e n d [p q]; dss: p q g y x; ecdsa: curve point d; ed25519: the 64-byte
    seed||public string)."""

    key_type: str
    length: int                                     # bytes of the file the key takes
    numbers: tuple[int, ...] = ()
    curve: str = ""
    point: bytes = b""
    ed25519: bytes = b""


DROPBEAR_TYPES = ("ssh-rsa", "ssh-dss", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                  "ecdsa-sha2-nistp521")
_DROPBEAR_HEADS = tuple(struct.pack(">I", len(t)) + t.encode() for t in DROPBEAR_TYPES)


def looks_like_dropbear(head: bytes) -> bool:
    return head.startswith(_DROPBEAR_HEADS)


def parse_dropbear(data: bytes) -> DropbearKey | None:
    if not looks_like_dropbear(data):
        return None
    try:
        r = Reader(data)
        name = r.text()
        if name == "ssh-rsa":
            nums = [r.mpint(), r.mpint(), r.mpint()]
            if r.left:
                nums += [r.mpint(), r.mpint()]
            return DropbearKey(name, r.pos, tuple(nums))
        if name == "ssh-dss":
            numbers = tuple(r.mpint() for _ in range(5))
            return DropbearKey(name, r.pos, numbers)
        if name == "ssh-ed25519":
            both = r.string()
            return DropbearKey(name, r.pos, ed25519=both) if len(both) == 64 else None
        curve = r.text()
        point = r.string()
        d = r.mpint()
        if curve not in ECDSA_CURVES or name != f"ecdsa-sha2-{curve}":
            return None
        return DropbearKey(name, r.pos, (d,), curve=curve, point=point)
    except WireError:
        return None


def dropbear_public_blob(key: DropbearKey) -> bytes:
    """The SSH public key blob of a Dropbear key (what its fingerprint is taken of)."""
    def string(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b

    def mpint(n: int) -> bytes:
        raw = n.to_bytes((n.bit_length() + 8) // 8, "big") if n else b""
        return string(raw)

    out = string(key.key_type.encode())
    if key.key_type == "ssh-rsa":
        return out + mpint(key.numbers[0]) + mpint(key.numbers[1])
    if key.key_type == "ssh-dss":
        return out + b"".join(mpint(n) for n in key.numbers[:4])
    if key.key_type == "ssh-ed25519":
        return out + string(key.ed25519[32:])
    return out + string(key.curve.encode()) + string(key.point)


# -- PuTTY .ppk ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PuttyKey:
    version: int
    key_type: str
    encryption: str
    comment: str
    public_blob: bytes
    private_blob: bytes
    length: int                     # bytes of the text the key takes (through Private-MAC)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def encrypted(self) -> bool:
        return self.encryption != "none"


_PPK_HEAD = re.compile(r"PuTTY-User-Key-File-([23]): (\S+)")


def parse_putty(text: str) -> PuttyKey | None:
    """A PuTTY private key file (the text must start with its first line)."""
    all_lines = list(lines(text))
    if not all_lines:
        return None
    head = _PPK_HEAD.fullmatch(all_lines[0][3].strip())
    if not head:
        return None
    headers: dict[str, str] = {}
    blobs: dict[str, bytes] = {}
    i, end = 1, all_lines[0][2]
    try:
        while i < len(all_lines):
            _, _, line_end, line = all_lines[i]
            key, sep, value = line.partition(": ")
            if not sep:
                return None
            i += 1
            end = line_end
            if key in ("Public-Lines", "Private-Lines"):
                count = int(value)
                chunk = "".join(all_lines[i + k][3].strip() for k in range(count))
                end = all_lines[i + count - 1][2] if count else end
                i += count
                blobs[key] = base64.b64decode(chunk, validate=True)
            else:
                headers[key] = value.strip()
            if key == "Private-MAC":
                break
    except (IndexError, ValueError, binascii.Error):
        return None
    if "Public-Lines" not in blobs or "Private-Lines" not in blobs or "Private-MAC" not in headers:
        return None
    return PuttyKey(int(head.group(1)), head.group(2), headers.get("Encryption", ""),
                    headers.get("Comment", ""), blobs["Public-Lines"], blobs["Private-Lines"], end,
                    headers)
