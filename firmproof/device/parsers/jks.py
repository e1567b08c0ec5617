"""Java key stores (JKS and JCEKS, the formats of `keytool -storetype JKS|JCEKS`), parsed
without any cryptography: what the bytes say, checked by the caller.

Layout (sun.security.provider.JavaKeyStore, com.sun.crypto.provider.JceKeyStore), big endian:

    magic u4 (0xFEEDFEED JKS, 0xCECECECE JCEKS)   version u4 (1 or 2)   count u4
    count entries:
        tag u4 (1 private key, 2 trusted certificate, 3 secret key: JCEKS only)
        alias (u2 length + modified UTF-8)   timestamp u8 (milliseconds)
        tag 1: u4 length + protected key (an EncryptedPrivateKeyInfo), u4 chain length,
               each certificate: [version 2: type as u2 + UTF-8] u4 length + DER
        tag 2: [version 2: type] u4 length + DER
        tag 3: a serialized Java object (a SealedObject): not parsed, the walk stops there
    SHA-1 digest (20 bytes) of the password, 'Mighty Aphrodite' and every byte before it

Every function returns None on malformed input; nothing raises.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

JKS_MAGIC = 0xFEEDFEED
JCEKS_MAGIC = 0xCECECECE
DIGEST_SIZE = 20
MAX_ENTRIES = 4096
MAX_CHAIN = 64
PRIVATE_KEY_ENTRY, TRUSTED_CERT_ENTRY, SECRET_KEY_ENTRY = 1, 2, 3
_FORMATS = {JKS_MAGIC: "jks", JCEKS_MAGIC: "jceks"}


@dataclass(frozen=True)
class JksEntry:
    tag: int                       # PRIVATE_KEY_ENTRY, TRUSTED_CERT_ENTRY
    alias: str
    timestamp_ms: int
    start: int                     # the entry's span in the file: tag to the end of its chain
    end: int
    protected_key: bytes = b""     # tag 1: the EncryptedPrivateKeyInfo
    certificates: tuple[bytes, ...] = ()   # DER, the key's chain (leaf first) or the trusted one


@dataclass(frozen=True)
class JavaKeyStore:
    format: str                    # 'jks' or 'jceks'
    version: int
    count: int                     # entries the header announces
    entries: tuple[JksEntry, ...]  # the ones walked (up to the first secret key entry)
    complete: bool                 # every announced entry was walked
    end: int                       # where the walk stopped: the digest follows a complete store

    @property
    def private_keys(self) -> tuple[JksEntry, ...]:
        return tuple(e for e in self.entries if e.tag == PRIVATE_KEY_ENTRY)


def store_format(data: bytes) -> str | None:
    """'jks' or 'jceks' when `data` opens with their magic and a known version."""
    if len(data) < 12 + DIGEST_SIZE:
        return None
    magic, version = struct.unpack_from(">II", data)
    return _FORMATS.get(magic) if version in (1, 2) else None


class _Reader:
    def __init__(self, data: bytes, end: int) -> None:
        self.data, self.pos, self.end = data, 12, end

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > self.end:
            raise ValueError("truncated")
        out = self.data[self.pos:self.pos + size]
        self.pos += size
        return out

    def u2(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u4(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def u8(self) -> int:
        return int(struct.unpack(">Q", self.take(8))[0])

    def utf(self) -> str:
        return self.take(self.u2()).decode("utf-8", "replace")

    def certificate(self, version: int) -> bytes:
        if version == 2:
            self.utf()                 # the certificate type, 'X.509'
        return self.take(self.u4())


def parse_keystore(data: bytes) -> JavaKeyStore | None:
    """The entries of a JKS or JCEKS store; None when the header is not one."""
    fmt = store_format(data)
    if fmt is None:
        return None
    version, count = struct.unpack_from(">II", data, 4)
    reader = _Reader(data, len(data) - DIGEST_SIZE)
    entries: list[JksEntry] = []
    try:
        for _ in range(min(count, MAX_ENTRIES)):
            start = reader.pos
            tag = reader.u4()
            if tag not in (PRIVATE_KEY_ENTRY, TRUSTED_CERT_ENTRY):
                break                  # a secret key (serialized Java object) or garbage
            alias, timestamp = reader.utf(), reader.u8()
            if tag == TRUSTED_CERT_ENTRY:
                cert = reader.certificate(version)
                entries.append(JksEntry(tag, alias, timestamp, start, reader.pos, certificates=(cert,)))
                continue
            protected = reader.take(reader.u4())
            chain_length = reader.u4()
            if chain_length > MAX_CHAIN:
                break
            chain = tuple(reader.certificate(version) for _ in range(chain_length))
            entries.append(JksEntry(tag, alias, timestamp, start, reader.pos, protected, chain))
    except ValueError:
        pass
    complete = len(entries) == count
    return JavaKeyStore(fmt, version, count, tuple(entries), complete, reader.pos)
