"""Password hash checking with the system's libcrypt (libxcrypt), through ctypes.

libxcrypt knows every scheme a firmware image uses: traditional DES, BSDi `_`,
MD5-crypt `$1$`, SHA-crypt `$5$`/`$6$`, bcrypt `$2a$/$2b$/$2y$`, yescrypt `$y$`,
scrypt `$7$`, NT `$3$`, and the Sun/NetBSD ones. The hash itself names the scheme and
its cost, so how many guesses a hash gets is decided from the hash alone, never from a
clock: the same image gives the same findings on a slow machine and on a fast one.

Costs (seconds per guess) were measured on the reference machine (2 cores, Debian 12,
libxcrypt 4.4.33) with the default parameters of each scheme, and are scaled by the
parameters a hash carries (rounds, bcrypt cost, yescrypt N and r):

    descrypt        ~80-100 000 guesses/s   sha256crypt (5000)    ~290-440/s
    nthash          ~160-240 000/s          sha512crypt (5000)    ~370-380/s
    bsdicrypt (725)   ~7 000/s              bcrypt cost 5         ~370/s (cost 10: ~13/s)
    md5crypt          ~4 700-4 800/s        yescrypt j9T          ~42-44/s
    scrypt $7$ CU         ~5-6/s            sunmd5 / sha1crypt    ~4-6/s
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hmac
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

CRYPT_DATA_SIZE = 1 << 18            # >= sizeof(struct crypt_data) of libxcrypt (32 KiB) and glibc (128 KiB)
ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_B64 = "[./0-9A-Za-z]"
_DES = re.compile(rf"{_B64}{{13}}")
_BSDI = re.compile(rf"_{_B64}{{19}}")
_MODULAR = re.compile(r"\$([0-9a-z]+)[$,]")
_ROUNDS = re.compile(r"\$rounds=(\d+)\$")
_BCRYPT = re.compile(r"\$2[abxy]?\$(\d\d)\$")


class CryptUnavailable(RuntimeError):
    """No usable libcrypt on this machine: hashes cannot be checked."""


@dataclass(frozen=True)
class Scheme:
    name: str
    seconds: float          # estimated seconds per guess for this very hash


# seconds per guess at the default parameters (see the module doc)
_BASE = {
    "descrypt": 1 / 100_000, "bsdicrypt": 1 / 6_800, "md5crypt": 1 / 4_700,
    "sha256crypt": 1 / 400, "sha512crypt": 1 / 370, "bcrypt": 1 / 370, "yescrypt": 1 / 42,
    "gost-yescrypt": 1 / 42, "scrypt": 1 / 5, "nthash": 1 / 240_000, "sunmd5": 1 / 5,
    "sha1crypt": 1 / 5,
}
_PREFIXES = {"1": "md5crypt", "5": "sha256crypt", "6": "sha512crypt", "2": "bcrypt", "2a": "bcrypt",
             "2b": "bcrypt", "2x": "bcrypt", "2y": "bcrypt", "y": "yescrypt", "gy": "gost-yescrypt",
             "7": "scrypt", "3": "nthash", "md5": "sunmd5", "sha1": "sha1crypt"}


def scheme_of(hashed: str) -> Scheme | None:
    """The scheme of a crypt(3) hash and what one guess against it costs; None when the
    text is no hash libcrypt knows (then it is a clear-text password or junk)."""
    if _DES.fullmatch(hashed):
        return Scheme("descrypt", _BASE["descrypt"])
    if _BSDI.fullmatch(hashed):
        rounds = _decode64(hashed[1:5]) or 725
        return Scheme("bsdicrypt", _BASE["bsdicrypt"] * rounds / 725)
    m = _MODULAR.match(hashed)
    if not m or m.group(1) not in _PREFIXES or len(hashed) < 8:
        return None
    name = _PREFIXES[m.group(1)]
    seconds = _BASE[name]
    if name in ("sha256crypt", "sha512crypt"):
        r = _ROUNDS.search(hashed[:40])
        if r:
            seconds *= min(max(int(r.group(1)), 1000), 999_999_999) / 5000
    elif name == "bcrypt":
        b = _BCRYPT.match(hashed)
        if not b:
            return None
        seconds *= 2 ** (int(b.group(1)) - 5)
    elif name in ("yescrypt", "gost-yescrypt"):
        seconds *= _yescrypt_factor(hashed)
    elif name == "sha1crypt":
        parts = hashed.split("$")
        if len(parts) > 2 and parts[2].isdigit():
            seconds *= int(parts[2]) / 205_636   # the rounds libxcrypt's gensalt picks
    return Scheme(name, seconds)


def _decode64(text: str) -> int | None:
    value = 0
    for i, char in enumerate(text):
        idx = ITOA64.find(char)
        if idx < 0:
            return None
        value |= idx << (6 * i)
    return value


def _yescrypt_factor(hashed: str) -> float:
    """Cost of a yescrypt hash relative to the default 'j9T' (N=4096, r=32)."""
    params = hashed.split("$")[2] if hashed.count("$") >= 3 else ""
    if len(params) < 3 or params[0] != "j":
        return 1.0
    n_log2 = ITOA64.find(params[1]) + 1
    r = ITOA64.find(params[2]) + 1
    if n_log2 <= 0 or r <= 0:
        return 1.0
    return (2 ** n_log2 * r) / (4096 * 32)


class _Lib:
    """The loaded libcrypt and one work area per thread."""

    def __init__(self) -> None:
        path = ctypes.util.find_library("crypt") or "libcrypt.so.1"
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            raise CryptUnavailable(f"libcrypt cannot be loaded ({exc})") from None
        fn = getattr(lib, "crypt_rn", None) or getattr(lib, "crypt_r", None)
        if fn is None:
            raise CryptUnavailable("libcrypt has neither crypt_rn nor crypt_r")
        self.reentrant_n = hasattr(lib, "crypt_rn")
        fn.restype = ctypes.c_char_p
        fn.argtypes = ([ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
                       if self.reentrant_n else [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p])
        self.fn = fn
        self.local = threading.local()

    def crypt(self, phrase: bytes, setting: bytes) -> bytes | None:
        data = getattr(self.local, "data", None)
        if data is None:   # zeroed once, as crypt_r wants; both functions may reuse it
            data = self.local.data = ctypes.create_string_buffer(CRYPT_DATA_SIZE)
        result = (self.fn(phrase, setting, data, CRYPT_DATA_SIZE) if self.reentrant_n
                  else self.fn(phrase, setting, data))
        if not result or result.startswith(b"*"):
            return None
        return bytes(result)


@cache
def _lib() -> _Lib:
    return _Lib()


def available() -> bool:
    try:
        _lib()
    except CryptUnavailable:
        return False
    return True


def crypt(password: str, setting: str) -> str | None:
    """crypt(3) of `password` with `setting` (a salt or a whole hash); None when libcrypt
    refuses the setting. Raises CryptUnavailable without libcrypt."""
    result = _lib().crypt(password.encode("utf-8", "surrogateescape"),
                          setting.encode("latin-1", "replace"))
    return None if result is None else result.decode("latin-1")


def check(password: str, hashed: str) -> bool:
    """True when `password` hashes to `hashed`."""
    result = crypt(password, hashed)
    return result is not None and hmac.compare_digest(result, hashed)


def guesses_allowed(hashed: str, budget_seconds: float) -> int:
    """How many guesses fit in `budget_seconds` for this hash (at least 1 for a known scheme)."""
    scheme = scheme_of(hashed)
    if scheme is None:
        return 0
    return max(1, int(budget_seconds / scheme.seconds))


def crack(hashed: str, candidates: Iterable[str], budget_seconds: float | None = None) -> str | None:
    """The first candidate that matches `hashed`. With a budget, no more candidates are tried
    than fit in it (estimated from the scheme and its parameters, so the answer is
    deterministic); without one, all of them."""
    limit = guesses_allowed(hashed, budget_seconds) if budget_seconds is not None else None
    if limit == 0:
        return None
    tried = 0
    seen: set[str] = set()
    for candidate in candidates:
        if limit is not None and tried >= limit:
            break
        if candidate in seen:
            continue
        seen.add(candidate)
        tried += 1
        if check(candidate, hashed):
            return candidate
    return None
