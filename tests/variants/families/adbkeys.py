"""Android adb keys shipped in an image: an `adb_keys` file holding real adb public keys lets
their holder use adb without the device's confirmation prompt. The keys are made at test time
(RSA-2048 with the cryptography package) and written the way adb writes them: the base64 of
adbd's 524-byte RSAPublicKey struct (modulus size in words, n0inv = -1/n mod 2^32, the
modulus, R^2 mod n, the exponent; little-endian 32-bit words), a blank and `user@host`.

True variants: the places a ramdisk or partition keeps the file (/adb_keys in a gzip cpio
ramdisk, /data/misc/adb, /product/etc/security where PRODUCT_ADB_KEYS goes, /system/etc,
/vendor/etc in an ext4 or SquashFS image), several keys, no comment, CRLF lines, exponent 3,
a key after lines adbd skips.

Decoys: an empty file, a comment only, an ssh-rsa authorized_keys line (adbd cannot use it),
structs adbd rejects or that are no key (a flipped byte in R^2, a wrong n0inv, a 4096-bit
struct, truncated base64), a host's own adbkey.pub (the other side's key, not a trust list),
and real adb keys in documentation or test-fixture folders (/usr/share/doc/…, a Python
package's tests/data): no device's adbd reads those, so they are not `key.authorized`."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from functools import cache

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.variants.corpus import Variant

FAMILY = "android-keys"
CATEGORY = "key.authorized"
WORDS = 64      # ANDROID_PUBKEY_MODULUS_SIZE / 4

# an Android-looking system partition: the analyzers see a build.prop of a user build
BUILD_PROP = ("# begin build properties\nro.build.type=user\nro.build.tags=release-keys\n"
              "ro.product.model=Pixel-like\nro.debuggable=0\nro.secure=1\nro.adb.secure=1\n")
ANDROID = {"/system/build.prop": BUILD_PROP, "/default.prop": "ro.secure=1\nro.adb.secure=1\n",
           "/init.rc": "on boot\n    start adbd\n"}


@cache
def _key(index: int, exponent: int = 65537, bits: int = 2048) -> tuple[int, int]:
    """(n, e) of a fresh RSA key; `index` tells keys apart (cached for one test run)."""
    numbers = rsa.generate_private_key(public_exponent=exponent, key_size=bits).public_key().public_numbers()
    return numbers.n, numbers.e


def adb_struct(n: int, e: int, words: int = WORDS) -> bytes:
    """adbd's RSAPublicKey struct of (n, e), as android_pubkey_encode writes it."""
    n0inv = (-pow(n, -1, 1 << 32)) % (1 << 32)
    rr = pow(2, 2 * 32 * words, n)
    size = 4 * words
    return (words.to_bytes(4, "little") + n0inv.to_bytes(4, "little") + n.to_bytes(size, "little")
            + rr.to_bytes(size, "little") + e.to_bytes(4, "little"))


def adb_line(blob: bytes, comment: str | None = "builder@factory-build-07") -> str:
    text = base64.b64encode(blob).decode()
    return f"{text} {comment}" if comment is not None else text


def _key_line(index: int, comment: str | None = "builder@factory-build-07", exponent: int = 65537) -> str:
    return adb_line(adb_struct(*_key(index, exponent)), comment)


def _flip(blob: bytes, at: int) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 0x01]) + blob[at + 1:]


def _ssh_rsa_line(index: int) -> str:
    n, e = _key(index)

    def mpint(v: int) -> bytes:
        raw = v.to_bytes(v.bit_length() // 8 + 1, "big")
        return len(raw).to_bytes(4, "big") + raw
    blob = (7).to_bytes(4, "big") + b"ssh-rsa" + mpint(e) + mpint(n)
    return "ssh-rsa " + base64.b64encode(blob).decode() + " dev@laptop"


def variants() -> Iterator[Variant]:
    # (name, path, content, image format)
    true: list[tuple[str, str, str, str]] = [
        ("ramdisk-root", "/adb_keys", _key_line(0) + "\n", "cpio-newc-gz"),
        ("ramdisk-root-squashfs", "/adb_keys", _key_line(0) + "\n", "squashfs-xz"),
        ("data-misc-adb-two-keys", "/data/misc/adb/adb_keys",
         _key_line(1, "alice@lab") + "\n" + _key_line(2, "bob@lab") + "\n", "squashfs-xz"),
        ("product-etc-security", "/product/etc/security/adb_keys", _key_line(3) + "\n", "ext4"),
        ("system-etc", "/system/etc/adb_keys", _key_line(1) + "\n", "ext4"),
        ("vendor-etc", "/vendor/etc/adb_keys", _key_line(2, "oem@vendor") + "\n", "squashfs-xz"),
        ("no-comment", "/adb_keys", _key_line(3, None) + "\n", "squashfs-xz"),
        ("no-final-newline", "/data/misc/adb/adb_keys", _key_line(0), "squashfs-xz"),
        ("crlf-and-comments", "/adb_keys",
         "# factory keys\r\n\r\n" + _key_line(1) + "\r\n", "squashfs-xz"),
        ("exponent-3", "/data/misc/adb/adb_keys", _key_line(4, "old@adb", exponent=3) + "\n", "squashfs-xz"),
        ("after-junk-lines", "/product/etc/security/adb_keys",
         "not a key\n" + adb_line(b"\0" * 524) + "\n" + _key_line(2) + "\n", "squashfs-xz"),
        ("leading-blanks", "/vendor/etc/adb_keys", "   " + _key_line(3, "qa@vendor") + "  \n", "squashfs-xz"),
    ]
    for name, path, content, fmt in true:
        yield Variant(FAMILY, name, {**ANDROID, path: content}, (CATEGORY, path), fmt=fmt)

    good = adb_struct(*_key(0))
    rr_at = 8 + 4 * WORDS + 17
    decoys: list[tuple[str, dict[str, str]]] = [
        ("empty", {"/adb_keys": ""}),
        ("comment-only", {"/data/misc/adb/adb_keys": "# adb keys go here, one per line\n"}),
        ("ssh-authorized-key-line", {"/adb_keys": _ssh_rsa_line(0) + "\n"}),
        ("flipped-rr-byte", {"/adb_keys": adb_line(_flip(good, rr_at)) + "\n"}),
        ("wrong-n0inv", {"/data/misc/adb/adb_keys": adb_line(_flip(good, 5)) + "\n"}),
        ("modulus-4096-struct", {"/adb_keys": adb_line(adb_struct(*_key(5, bits=4096), words=128)) + "\n"}),
        ("truncated-base64", {"/product/etc/security/adb_keys": _key_line(1)[:400] + "\n"}),
        ("zeroed-struct", {"/adb_keys": adb_line(b"\0" * 524) + "\n"}),
        ("host-adbkey-pub", {"/root/.android/adbkey.pub": _key_line(0, "root@buildbox") + "\n"}),
        ("documentation-example",
         {"/usr/share/doc/android-tools-adb/examples/adb_keys": _key_line(1) + "\n"}),
        ("test-fixture", {"/usr/lib/python3/dist-packages/adb/tests/data/adb_keys": _key_line(2) + "\n"}),
        ("named-like-but-not-adb-keys", {"/system/etc/adb_keys.txt.orig.example": "see adb_keys(5)\n"}),
    ]
    for name, files in decoys:
        yield Variant(FAMILY, f"{name}-decoy", {**ANDROID, **files}, None, forbid=(CATEGORY,))
