"""Search across the corpus: which images ship this key, this executable, this component (at
this version), or hold these bytes. One page (/search) and one API call (/api/search?kind=&q=),
both answering with images (newest scan of each) and where in each.

Keys, executables and components are the store's own questions (`firmproof.store.query`, as
`firmproof db key|executable|component` asks them). A string is searched for in the kept copies
of the stored images (`kept_image`: `<data dir>/images/<sha256>`) by a yara-x rule made from it,
its bytes written as hex patterns (no text of the user's ever reaches the rule's source): its
UTF-8 bytes and, for text without hex bytes in braces, its UTF-16LE and UTF-16BE bytes too, each
match saying which; within a time budget and a bound on images and matches; the answer says when
a bound cut it short and how many images have no kept copy, so that silence is not mistaken for
absence.
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yara_x
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from firmproof.store import query
from firmproof.store.schema import Image, Scan
from firmproof.web.api import REFUSED, Problem, store_of
from firmproof.web.rendering import render

if TYPE_CHECKING:
    from firmproof.store import Store

KINDS = ("key", "executable", "component", "string")
KIND_LABELS = {"key": "key fingerprint", "executable": "executable sha256",
               "component": "component [version]", "string": "string"}
Kind = Literal[KINDS]                   # type: ignore[valid-type]
MAX_QUERY = 256                         # characters
MIN_PATTERN_BYTES = 3                   # known bytes of a string pattern (fewer match everywhere)
EXCERPT_BYTES = 64                      # of a string match, shown


@dataclass(frozen=True)
class Limits:
    """What one search may cost: places listed (every kind), and for a string the seconds, the
    kept images read and the matches listed (per image and in all)."""

    places: int = 1000
    seconds: float = 10.0
    images: int = 200
    matches: int = 200
    matches_per_image: int = 20


LIMITS = Limits()


class SearchError(ValueError):
    """A query that cannot be searched: the message says why and what would do."""


# ---------------------------------------------------------------- what the user typed

_SHA256_TOKEN = re.compile(r"SHA256:([A-Za-z0-9+/]{43})=?(?![A-Za-z0-9+/])")
_BASE64_DIGEST = re.compile(r"[A-Za-z0-9+/]{43}=?")
_HEX = re.compile(r"[0-9a-fA-F]+")


def _hex_digits(text: str) -> str | None:
    """`text` as hex digits when it is hex, with or without colons or spaces between bytes."""
    digits = re.sub(r"[:\s]", "", text)
    return digits.lower() if _HEX.fullmatch(digits) else None


def key_fingerprint(text: str) -> str:
    """The fingerprint the store keeps ('SHA256:' + unpadded base64, as ssh-keygen -l prints
    it) of what a user pastes: that, without its prefix, a whole `ssh-keygen -l` line, or the
    SHA-256 in hex with or without colons."""
    text = text.strip()
    if found := _SHA256_TOKEN.search(text):
        return f"SHA256:{found.group(1)}"
    if _BASE64_DIGEST.fullmatch(text):
        return f"SHA256:{text.rstrip('=')}"
    digits = _hex_digits(text.removeprefix("SHA256:").removeprefix("sha256:"))
    if digits is not None and len(digits) == 64:
        return "SHA256:" + base64.b64encode(bytes.fromhex(digits)).decode().rstrip("=")
    if text.upper().startswith("MD5:") or (digits is not None and len(digits) == 32):
        raise SearchError("an MD5 fingerprint: the store keeps SHA-256 fingerprints "
                          "(ssh-keygen -l -E sha256 -f KEY prints the key's)")
    raise SearchError(f"{_shown(text)} is not a key fingerprint: give SHA256:… as ssh-keygen -l prints "
                      "it, or the SHA-256 in hex (64 digits, colons allowed)")


_SHA256_HEX = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")


def executable_sha256(text: str) -> str:
    """The SHA-256 (64 hex digits, lower case) of what a user pastes: the hash, or a line of
    sha256sum's output (either style: `HASH  PATH`, `SHA256 (PATH) = HASH`)."""
    found = _SHA256_HEX.findall(text)
    if len(found) != 1:
        raise SearchError(f"{_shown(text)} is not a SHA-256: give the file's 64 hex digits "
                          "(sha256sum prints them)")
    return str(found[0]).lower()


def component_name(text: str) -> tuple[str, str | None]:
    """(name, version or None) of 'busybox 1.36.1', 'busybox@1.36.1' or 'busybox'."""
    words = text.replace("@", " ", 1).split()
    if not words or len(words) > 2:
        raise SearchError(f"{_shown(text)}: give a component's name and, if you like, its version "
                          "('busybox' or 'busybox 1.36.1')")
    return words[0], words[1] if len(words) == 2 else None


_HEX_GROUP = re.compile(r"\{((?:\s*(?:[0-9a-fA-F]{2}|\?\?))+)\s*\}")
_HEX_TOKEN = re.compile(r"[0-9a-fA-F]{2}|\?\?")


def string_pattern(text: str) -> list[str]:
    """The bytes of a string search as hex-pattern tokens ('61', '??'): the text's UTF-8 bytes,
    and where it holds a group of hex bytes in braces ('{de ad ?? ef}', ?? any byte), those
    bytes. Braces holding anything else are text. Only these tokens reach the rule."""
    tokens: list[str] = []
    at = 0
    for group in _HEX_GROUP.finditer(text):
        tokens += [f"{b:02x}" for b in text[at:group.start()].encode()]
        tokens += [t.lower() for t in _HEX_TOKEN.findall(group.group(1))]
        at = group.end()
    tokens += [f"{b:02x}" for b in text[at:].encode()]
    known = sum(t != "??" for t in tokens)
    if known < MIN_PATTERN_BYTES:
        raise SearchError(f"{_shown(text)}: a string search needs at least {MIN_PATTERN_BYTES} known bytes")
    while tokens[0] == "??":            # a leading or trailing any-byte only moves the match
        tokens.pop(0)
    while tokens[-1] == "??":
        tokens.pop()
    return tokens


Encoding = Literal["utf-8", "utf-16le", "utf-16be"]
ENCODING_LABELS = {"utf-8": "UTF-8", "utf-16le": "UTF-16LE", "utf-16be": "UTF-16BE"}
_UTF16: tuple[Encoding, ...] = ("utf-16le", "utf-16be")


def string_forms(text: str) -> dict[Encoding, list[str]]:
    """The hex-pattern tokens of a string search by the encoding they are in: 'utf-8' always
    (`string_pattern`: the text's UTF-8 bytes and the hex bytes given in braces); where the
    text holds no hex bytes in braces, its UTF-16LE and UTF-16BE bytes too (Windows-made and
    wide-character firmware strings), so that no ?? stands for half a character."""
    forms: dict[Encoding, list[str]] = {"utf-8": string_pattern(text)}
    if not _HEX_GROUP.search(text):
        for encoding in _UTF16:
            forms[encoding] = [f"{b:02x}" for b in text.encode(encoding)]
    return forms


def string_rule(forms: dict[Encoding, list[str]]) -> yara_x.Rules:
    """The yara-x rule matching any of these hex patterns, each a string named by its encoding
    (checked again: hex bytes and ?? only get in)."""
    if not forms or not all(tokens and all(_HEX_TOKEN.fullmatch(t) for t in tokens)
                            for tokens in forms.values()):
        raise SearchError("a string pattern is made of hex bytes and ?? only")
    strings = " ".join(f"${_identifier(e)} = {{ {' '.join(t)} }}" for e, t in forms.items())
    try:
        return yara_x.compile(f"rule search {{ strings: {strings} condition: any of them }}")
    except yara_x.CompileError as exc:
        raise SearchError(f"the pattern cannot be searched: {str(exc).splitlines()[0]}") from None


def _identifier(encoding: Encoding) -> str:
    return encoding.replace("-", "_")


def _shown(text: str, most: int = 80) -> str:
    return repr(text if len(text) <= most else text[:most] + "…")


# ---------------------------------------------------------------- answers

@dataclass
class Found:
    """What a search found: images (newest scan each) with their places, and how complete."""

    kind: str
    query: str
    images: list[dict[str, Any]] = field(default_factory=list)
    places: int = 0
    cut: str | None = None                 # why the answer is not the whole answer
    searched: int | None = None            # string: kept images searched
    not_kept: int | None = None            # string: images in the store without a kept copy
    seconds: float = 0.0

    def add(self, image: dict[str, Any], place: dict[str, Any]) -> None:
        if not self.images or self.images[-1]["sha256"] != image["sha256"]:
            self.images.append({**image, "places": []})
        self.images[-1]["places"].append(place)
        self.places += 1

    def out(self) -> dict[str, Any]:
        return {"kind": self.kind, "query": self.query, "images": self.images, "places": self.places,
                "complete": self.cut is None, "cut": self.cut, "searched": self.searched,
                "not_kept": self.not_kept, "seconds": round(self.seconds, 3)}


def _image_of(row: dict[str, Any]) -> dict[str, Any]:
    return {"image": row["image"], "sha256": row["image_sha256"], "vendor": row["vendor"],
            "product": row["product"], "version": row["version"], "release_date": row["release_date"],
            "scan": row["scan"]}


def _key_what(row: dict[str, Any]) -> str:
    what = f"{row['kind']} {row['type']}" + (f" '{row['comment']}'" if row["comment"] else "")
    return what + (f", {row['rule']}" if row["rule"] else ", no finding")


def _from_rows(found: Found, rows: list[dict[str, Any]], what: Callable[[dict[str, Any]], str],
               limits: Limits, total: Callable[[], int]) -> Found:
    """The places of `rows` (asked with a limit of one more than listed); `total` counts them
    all where there are more."""
    for row in rows[:limits.places]:
        found.add(_image_of(row), {"path": row["path"], "inside": row.get("inside", ""),
                                   "offset": row.get("offset"), "length": None, "what": what(row)})
    if len(rows) > limits.places:
        found.cut = f"only the first {limits.places} of {total()} places are listed"
    return found


def search(store: Store, kind: str, text: str, kept: Callable[[str], Path | None],
           limits: Limits = LIMITS) -> Found:
    """Search the store (and for a string the kept images) for `text` as `kind`."""
    started = time.monotonic()
    text = text.strip()
    if not text:
        raise SearchError("the query is empty: give a key fingerprint, a SHA-256, a component or a string")
    if len(text) > MAX_QUERY:
        raise SearchError(f"the query is {len(text)} characters long: at most {MAX_QUERY}")
    over = limits.places + 1
    if kind == "key":
        fp = key_fingerprint(text)
        found = _from_rows(Found(kind, fp), query.key(store, fp, over), _key_what, limits,
                           lambda: query.places(store, kind, fp))
    elif kind == "executable":
        sha = executable_sha256(text)
        found = _from_rows(Found(kind, sha), query.executable(store, sha, over),
                           lambda r: f"ELF file, {r['size']} bytes", limits,
                           lambda: query.places(store, kind, sha))
    elif kind == "component":
        name, version = component_name(text)
        found = _from_rows(Found(kind, f"{name} {version}" if version else name),
                           query.component(store, name, version, over),
                           lambda r: f"{r['component']} {r['component_version']} ({r['source']})", limits,
                           lambda: query.places(store, kind, name, version))
    elif kind == "string":
        found = search_bytes(store, string_forms(text), kept, limits)
    else:
        raise SearchError(f"{kind!r}: a search is of one of {', '.join(KINDS)}")
    found.seconds = time.monotonic() - started
    return found


def _stored_images(store: Store) -> list[dict[str, Any]]:
    """Every image in the store with its newest scan (whatever it gave: its bytes are searched)."""
    newest = select(Scan.image_id, func.max(Scan.id).label("scan")).group_by(Scan.image_id).subquery()
    rows = (select(Image.name.label("image"), Image.sha256.label("image_sha256"), Image.vendor,
                   Image.product, Image.version, Image.release_date, newest.c.scan)
            .join(newest, newest.c.image_id == Image.id)
            .order_by(Image.vendor, Image.product, Image.release_date, Image.version, Image.name, Image.id))
    with store.sessions() as session:
        return [dict(r._mapping) for r in session.execute(rows)]


def _excerpt(data: bytes, encoding: Encoding = "utf-8") -> str:
    """Matched bytes as text: printable ASCII as itself, anything else as \\xNN (UTF-8), or
    the UTF-16 characters, printable ASCII as itself, any other as \\uNNNN."""
    if encoding == "utf-8":
        return "".join(chr(b) if 0x20 <= b < 0x7f and b != 0x5c else f"\\x{b:02x}" for b in data)
    text = data[:len(data) // 2 * 2].decode(encoding, "surrogatepass")
    return "".join(c if 0x20 <= ord(c) < 0x7f and c != "\\" else f"\\u{ord(c):04x}" for c in text)


def _spans(results: yara_x.ScanResults) -> list[tuple[int, int, Encoding]]:
    """(offset, length, encoding) of each match, by offset. ASCII text in UTF-16 reads as both
    byte orders one byte apart (LE 'a\\0b\\0' holds BE '\\0a\\0b' where a NUL comes before it,
    as BE holds LE where one comes after): of such a pair only the match at an even offset is
    kept, UTF-16 text being kept 2-byte aligned in files and in the structures that hold it."""
    by_name = {f"${_identifier(e)}": e for e in ("utf-8", *_UTF16)}
    spans = sorted((m.offset, m.length, by_name[pattern.identifier]) for rule in results.matching_rules
                   for pattern in rule.patterns for m in pattern.matches)
    matched = set(spans)
    other: dict[Encoding, tuple[Encoding, int]] = {"utf-16le": ("utf-16be", -1), "utf-16be": ("utf-16le", 1)}

    def shadow(offset: int, length: int, encoding: Encoding) -> bool:
        pair = other.get(encoding)
        return pair is not None and offset % 2 == 1 and (offset + pair[1], length, pair[0]) in matched

    return [span for span in spans if not shadow(*span)]


def search_bytes(store: Store, forms: dict[Encoding, list[str]], kept: Callable[[str], Path | None],
                 limits: Limits = LIMITS) -> Found:
    """The kept images (of the store's images) holding the pattern in any of its forms (by
    encoding: `string_forms`), each match's offset in the image, encoding and bytes; bounded by
    `limits` (the answer's `cut` says which bound stopped it)."""
    started = time.monotonic()
    rules = string_rule(forms)
    found = Found("string", "{ " + " ".join(forms["utf-8"]) + " }", searched=0)
    images = _stored_images(store)
    paths = [(row, kept(row["image_sha256"])) for row in images]
    to_search = [(row, path) for row, path in paths if path is not None]
    found.not_kept = len(paths) - len(to_search)
    scanner = yara_x.Scanner(rules)
    scanner.max_matches_per_pattern(limits.matches_per_image)
    for number, (row, path) in enumerate(to_search):
        left = limits.seconds - (time.monotonic() - started)
        if number >= limits.images or left <= 0 or found.places >= limits.matches:
            why = (f"at most {limits.images} image{' is' if limits.images == 1 else 's are'} searched"
                   if number >= limits.images else
                   f"the time budget of {limits.seconds:g} s ran out" if left <= 0 else
                   f"at most {limits.matches} matches are listed")
            found.cut = f"{why}: {len(to_search) - number} of {len(to_search)} kept images not searched"
            break
        scanner.set_timeout(max(1, math.ceil(left)))
        try:
            results = scanner.scan_file(str(path))
        except yara_x.TimeoutError:
            found.cut = (f"the time budget of {limits.seconds:g} s ran out in {row['image']}: "
                         f"{len(to_search) - number} of {len(to_search)} kept images not searched whole")
            break
        except yara_x.ScanError as exc:
            found.cut = f"{row['image']}: its kept copy could not be read ({exc})"
            continue
        found.searched = (found.searched or 0) + 1
        spans = _spans(results)
        if len(spans) >= limits.matches_per_image:
            found.cut = found.cut or (f"at most {limits.matches_per_image} matches are listed per image "
                                      f"({row['image']} has {limits.matches_per_image} or more)")
        listed = spans[:min(limits.matches_per_image, limits.matches - found.places)]
        with path.open("rb") as image:
            for offset, length, encoding in listed:
                image.seek(offset)
                what = _excerpt(image.read(min(length, EXCERPT_BYTES)), encoding)
                found.add(_image_of(row), {"path": "", "inside": "", "offset": offset, "length": length,
                                           "encoding": encoding, "what": what})
    return found


# ---------------------------------------------------------------- the API and the page

class PlaceOut(BaseModel):
    path: str = Field(description="the file in the image ('': the image's own bytes)")
    inside: str = Field(description="the containers the file is in, below the image "
                                    "('squashfs@0x0'; '' for the image's own bytes)")
    offset: int | None = Field(description="where in the file (in the image when path is ''), when known")
    length: int | None
    what: str = Field(description="what is there: the key's kind, type, comment and rule; the "
                                  "component's name, version and source; the matched bytes (UTF-16: "
                                  "its characters)")
    encoding: Encoding | None = Field(default=None, description="string: the form that matched (the "
                                      "text's UTF-8 bytes, with any hex bytes given; or its UTF-16LE "
                                      "or UTF-16BE bytes)")


class ImageHitOut(BaseModel):
    image: str
    sha256: str
    vendor: str | None
    product: str | None
    version: str | None
    release_date: date | None
    scan: int = Field(description="the image's newest scan (that gave a report, for key, "
                                  "executable and component)")
    places: list[PlaceOut]


class SearchOut(BaseModel):
    kind: Kind
    query: str = Field(description="what was searched: the fingerprint as SHA256:…, the SHA-256 in "
                                   "lower case, the component's name and version, the string's UTF-8 "
                                   "bytes as a yara-x hex pattern (text without hex bytes is searched "
                                   "in UTF-16LE and UTF-16BE too)")
    images: list[ImageHitOut]
    places: int
    complete: bool = Field(description="false: a bound cut the search short (`cut` says which)")
    cut: str | None
    searched: int | None = Field(description="string: the kept images searched")
    not_kept: int | None = Field(description="string: images of the store without a kept copy "
                                             "(not searched)")
    seconds: float


Q_HELP = ("a key fingerprint (SHA256:… or hex), an executable's SHA-256, a component's name and "
          "version, or a string (text; {de ad ?? ef} for bytes)")
api_router = APIRouter(prefix="/api", tags=["search"], responses=REFUSED)
page_router = APIRouter(include_in_schema=False)


def _kept(request: Request) -> Callable[[str], Path | None]:
    from firmproof.web.app import kept_image

    return lambda sha256: kept_image(request.app, sha256)


@api_router.get("/search", response_model=SearchOut,
                responses={400: {"model": Problem, "description": "a query that cannot be searched "
                                                                  "(empty, a malformed hash or pattern)"}},
                summary="images holding a key, an executable, a component or a string")
def search_api(request: Request, kind: Kind,
               q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY, description=Q_HELP)]
               ) -> dict[str, Any]:
    try:
        return search(store_of(request), kind, q, _kept(request)).out()
    except SearchError as exc:
        raise HTTPException(400, str(exc)) from None


@page_router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, kind: str = "key", q: str = "") -> HTMLResponse:
    found, problem = None, None
    if kind not in KINDS:
        problem, kind = f"{kind!r}: search for one of {', '.join(KIND_LABELS.values())}", "key"
    elif q.strip():
        try:
            found = search(store_of(request), kind, q, _kept(request)).out()
        except SearchError as exc:
            problem = str(exc)
    return render(request, "search.html", status_code=400 if problem else 200, kind=kind, q=q,
                  kinds=KIND_LABELS, found=found, problem=problem, limits=LIMITS,
                  encodings=ENCODING_LABELS)


router = APIRouter()
router.include_router(api_router)
router.include_router(page_router)
