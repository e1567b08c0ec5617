"""What an image says it is: vendor, product and version read from the files that name them.

A lab scanning a corpus rarely has a clean manifest; the image often says what it is in its
build files. Each source is declared once below: the files that carry it (first found wins),
how they are written, and which keys name the vendor, the product and the version, in order
of preference. A guess keeps the bytes of its value as evidence (`Evidence.of`), so the report
says where it read it and anyone can re-read it; the report marks it as guessed, and what the
user gives on the command line always wins over it.

Sources (their formats as the programs that read them define them):
- Android property files (build.prop and friends, property_service's `key=value`): the
  manufacturer, the model, the build's display id;
- OpenWrt's /etc/openwrt_release (shell assignments, sourced by its scripts): the
  distribution and its release;
- os-release (freedesktop, shell-compatible assignments): NAME and VERSION_ID.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from firmproof.device.parsers._lines import strip_span
from firmproof.device.parsers.androidprops import last_values, parse_props
from firmproof.fs.rootfs import FILE, RootFS
from firmproof.model import Evidence, NoEvidence

FIELDS = ("vendor", "product", "version")
MAX_BYTES = 256 * 1024          # an identity file larger than this is no identity file
MAX_VALUE = 120                 # characters of a value: longer is not a name or a version


@dataclass(frozen=True)
class Source:
    name: str
    paths: tuple[str, ...]                      # the first of them a view holds is read
    keys: dict[str, tuple[str, ...]]            # field -> keys naming it, preferred first


SOURCES = (
    Source("Android build properties",
           ("/system/build.prop", "/build.prop", "/vendor/build.prop", "/product/build.prop",
            "/system/system/build.prop", "/default.prop", "/prop.default", "/system/etc/prop.default"),
           {"vendor": ("ro.product.manufacturer", "ro.product.system.manufacturer",
                       "ro.product.vendor.manufacturer", "ro.product.brand", "ro.product.vendor.brand"),
            "product": ("ro.product.model", "ro.product.system.model", "ro.product.vendor.model",
                        "ro.product.name"),
            "version": ("ro.build.display.id", "ro.build.version.incremental",
                        "ro.vendor.build.version.incremental")}),
    Source("OpenWrt release", ("/etc/openwrt_release",),
           {"product": ("DISTRIB_ID",), "version": ("DISTRIB_RELEASE",)}),
    Source("os-release", ("/etc/os-release", "/usr/lib/os-release"),
           {"product": ("NAME",), "version": ("VERSION_ID",)}),
)


@dataclass(frozen=True)
class Guess:
    """One field of the image's identity as one of its files says it, at `evidence`."""

    field: str
    value: str
    source: str
    path: str
    container: tuple[str, ...]
    evidence: Evidence

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source, "path": self.path,
                "container": list(self.container), "evidence": self.evidence.to_json()}

    @classmethod
    def from_json(cls, field: str, data: Any) -> Guess | None:
        """A guess as a report says it; None if it is not shaped like one (a report may come
        from anyone: a malformed guess is left out, never trusted)."""
        if not isinstance(data, dict):
            return None
        evidence, container = data.get("evidence"), data.get("container")
        if not (isinstance(evidence, dict) and isinstance(container, list)
                and all(isinstance(c, str) for c in container)
                and all(isinstance(data.get(k), str) for k in ("value", "source", "path"))
                and all(type(evidence.get(k)) is int for k in ("offset", "length"))
                and all(isinstance(evidence.get(k), str) for k in ("sha256", "excerpt"))):
            return None
        return cls(field, data["value"], data["source"], data["path"], tuple(container),
                   Evidence(evidence["sha256"], evidence["offset"], evidence["length"], evidence["excerpt"]))


def identify(views: Iterable[RootFS]) -> tuple[Guess, ...]:
    """Vendor, product and version as the views' files say them: for each field, the first
    source (in SOURCES' order) that names it, in the first view (in unpacking order) that has it."""
    found: dict[str, Guess] = {}
    views = list(views)
    for source in SOURCES:
        for view in views:
            if all(f in found for f in source.keys):
                break
            for guess in _read(source, view):
                found.setdefault(guess.field, guess)
    return tuple(found[f] for f in FIELDS if f in found)


def _read(source: Source, view: RootFS) -> list[Guess]:
    for path in source.paths:
        entry = view.stat(path)
        if entry is None or entry.kind != FILE or entry.size > MAX_BYTES:
            continue
        data = view.read(path)
        if data is None:
            continue
        values = _assignments(data.decode("latin-1"))
        guesses = []
        for field, keys in source.keys.items():
            key = next((k for k in keys if k in values), None)
            if key is None:
                continue
            start, end = values[key]
            value = data[start:end].decode("utf-8", "replace")
            try:
                evidence = Evidence.of(view, path, start, end - start, owner="identity", window=False)
            except NoEvidence:
                continue
            named = view.entry(path)         # the name read, as findings name it (Rule.at)
            guesses.append(Guess(field, value, source.name, named.report_path if named else path,
                                 view.container, evidence))
        return guesses
    return []


def _assignments(text: str) -> dict[str, tuple[int, int]]:
    """key -> the byte span of its value, for `key=value` lines (a later line wins, `?=` does
    not override; one pair of quotes around the value is not part of it); empty, overlong and
    multi-line values are left out."""
    out: dict[str, tuple[int, int]] = {}
    for key, prop in last_values(parse_props(text)).items():
        start, end = strip_span(text, text.index("=", prop.start) + 1, prop.end)
        if end - start >= 2 and text[start] in "'\"" and text[end - 1] == text[start]:
            start, end = start + 1, end - 1
        if 0 < end - start <= MAX_VALUE and text[start:end].isprintable():
            out[key] = (start, end)
    return out
