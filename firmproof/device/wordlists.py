"""The lists of data/: vendor defaults (user, password, source), common passwords, and
private keys that are public knowledge.

All are plain text shipped with the package; the accounts analyzer guesses account
passwords with the first two, the keys analyzer the passphrases of encrypted private keys
and it tells known test keys apart with the third.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class DefaultCredential:
    user: str
    password: str
    source: str


def _data_lines(name: str) -> list[str]:
    text = resources.files("firmproof").joinpath("data", name).read_text("utf-8")
    return [line.rstrip("\r") for line in text.splitlines() if line.strip() and not line.startswith("#")]


@cache
def default_credentials() -> tuple[DefaultCredential, ...]:
    """data/default-credentials.txt in file order: `user<TAB>password<TAB>source` lines."""
    out = []
    for line in _data_lines("default-credentials.txt"):
        user, password, source = [*line.split("\t"), "", ""][:3]
        if password:
            out.append(DefaultCredential(user, password, source.strip()))
    return tuple(out)


@cache
def common_passwords() -> tuple[str, ...]:
    """data/common-passwords.txt in file order (most likely first)."""
    return tuple(_data_lines("common-passwords.txt"))


@cache
def passphrases() -> tuple[str, ...]:
    """Guesses for the passphrase of a private key: empty, vendor defaults, common passwords."""
    return tuple(dict.fromkeys(["", *(d.password for d in default_credentials()), *common_passwords()]))


@cache
def known_test_keys() -> dict[str, str]:
    """data/known-test-keys.txt: public-half fingerprint ('SHA256:…') -> what the key is."""
    out: dict[str, str] = {}
    for line in _data_lines("known-test-keys.txt"):
        fp, _, what = line.partition("\t")
        out[fp.strip()] = what.strip()
    return out
