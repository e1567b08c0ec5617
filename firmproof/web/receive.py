"""What an upload is on the way in: the body of `POST /api/uploads` or of the `/upload` form.

The body is read as it arrives (python-multipart's parser, fed chunk by chunk) and the file
part written to a temporary file inside the data folder's `images/` (`.upload-<random>`),
hashed as it is written; then renamed to `images/<sha256>`, or dropped where that is already
there. The client's file name is never a path: it is kept only to be shown, reduced to a safe
base name. An upload larger than the limit (`serve --upload-limit`) is refused with 413 as soon
as it is, and what was written of it removed; an empty one is refused too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from firmproof.store import ImageInfo

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks


log = logging.getLogger(__name__)

GiB = 1024 ** 3
DEFAULT_LIMIT = GiB                      # `serve --upload-limit`
FIELDS = ("vendor", "product", "version", "release_date")
FIELD_BYTES = 1024                       # a text field's most
PARTS = 16                               # parts of one upload's body, at most
ENVELOPE = 64 * 1024                     # the body's bytes besides the file's, at most
DRAIN_BYTES = 64 * 1024 ** 2             # read and dropped after a refusal, so the client reads it
STALE_SECONDS = 3600                     # an unfinished `.upload-*` this old is a crashed server's
NAME_CHARS = 200                         # of the client's file name, shown
TEMP_PREFIX = ".upload-"


class Refused(Exception):
    """An upload refused: the status and what the client is told."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def display_name(raw: bytes | None) -> str:
    """The client's file name as firmproof shows it: its last component (after / or \\), its
    printable characters, at most NAME_CHARS; 'upload' where nothing is left. Never a path."""
    text = raw.decode("utf-8", "replace") if raw else ""
    base = re.split(r"[/\\]", text)[-1]
    base = "".join(c for c in base if c.isprintable()).strip()
    return base[:NAME_CHARS] if base not in ("", ".", "..") else "upload"


# ---------------------------------------------------------------- reading the body


@dataclass
class Received:
    """An upload's file, written and hashed (in `images/` under a temporary name), and its fields."""

    temp: Path
    sha256: str
    size: int
    name: str
    fields: dict[str, str]


class _Receiver:
    """python-multipart's callbacks: text fields to memory (small), the one file part to a
    temporary file in `folder`, hashed as it comes, refused past `limit` bytes."""

    def __init__(self, folder: Path, limit: int, allowed: tuple[str, ...],
                 before_file: Callable[[dict[str, str]], None] | None) -> None:
        self.folder, self.limit, self.allowed, self.before_file = folder, limit, allowed, before_file
        self.fields: dict[str, str] = {}
        self.parts = 0
        self.ended = False
        self.temp: Path | None = None
        self.out: IO[bytes] | None = None
        self.digest = hashlib.sha256()
        self.size = 0
        self.name = "upload"
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._part: str | None = None        # the part's form field name
        self._text = bytearray()
        self._in_file = False

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self._begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done, "on_part_data": self._data,
                "on_part_end": self._part_end, "on_end": self._end}

    def _begin(self) -> None:
        self.parts += 1
        if self.parts > PARTS:
            raise Refused(400, f"more than {PARTS} parts in the form")
        self._headers, self._field, self._value = {}, b"", b""
        self._part, self._in_file = None, False
        self._text.clear()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("latin-1")
        if name == "file":
            if self.temp is not None:
                raise Refused(400, "one file per upload")
            if self.before_file is not None:
                self.before_file(self.fields)
            self.name = display_name(options.get(b"filename"))
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.folder)
            self.temp, self.out = Path(temp), os.fdopen(handle, "wb")
            self._in_file = True
        elif name in self.allowed:
            self._part = name
        else:
            known = ", ".join(("file", *(a for a in self.allowed if a != "csrf")))
            raise Refused(400, f"unknown form field {name[:40]!r} (known: {known})")

    def _data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._in_file:
            assert self.out is not None
            self.size += len(chunk)
            if self.size > self.limit:
                raise Refused(413, f"the image is larger than this server's upload limit "
                                   f"({size_text(self.limit)}; `firmproof serve --upload-limit` sets it)")
            self.digest.update(chunk)
            try:
                self.out.write(chunk)
            except OSError as exc:
                raise Refused(507, f"cannot keep the upload: {exc.strerror or exc}") from None
        elif self._part is not None:
            self._text += chunk
            if len(self._text) > FIELD_BYTES:
                raise Refused(400, f"{self._part}: longer than {FIELD_BYTES} bytes")

    def _part_end(self) -> None:
        if self._in_file:
            assert self.out is not None
            self.out.close()
            self._in_file = False
        elif self._part is not None:
            try:
                self.fields[self._part] = self._text.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise Refused(400, f"{self._part}: not UTF-8 text") from None

    def _end(self) -> None:
        self.ended = True

    def discard(self) -> None:
        """Remove what was written of the file."""
        if self.out is not None:
            self.out.close()
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)
            self.temp = None


async def receive(request: Request, folder: Path, limit: int, allowed: tuple[str, ...] = FIELDS,
                  before_file: Callable[[dict[str, str]], None] | None = None) -> Received:
    """Read the multipart body of `request` as it arrives (see the module's doc). Raises Refused;
    on a refusal nothing of the upload is left, and the rest of the body (up to DRAIN_BYTES)
    is read and dropped, so that the client gets to read why."""
    kind, options = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise Refused(415, "send the image as multipart/form-data, in a field named 'file'")
    receiver = _Receiver(folder, limit, allowed, before_file)
    parser = MultipartParser(options[b"boundary"], receiver.callbacks())
    refused: Refused | None = None
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + ENVELOPE:
        refused = Refused(413, f"the upload ({size_text(int(declared))}) is larger than this server's "
                               f"upload limit ({size_text(limit)}; `firmproof serve --upload-limit` sets it)")
    dropped = 0
    try:
        async for chunk in request.stream():
            if refused is None:
                try:
                    await run_in_threadpool(parser.write, chunk)
                except Refused as exc:
                    refused = exc
                except MultipartParseError as exc:
                    refused = Refused(400, f"not a readable multipart/form-data body ({exc})")
                if refused is not None:
                    receiver.discard()
            else:
                dropped += len(chunk)
                if dropped > DRAIN_BYTES:
                    break
        if refused is None and not receiver.ended:
            refused = Refused(400, "the form's body ended before its last part")
        if refused is None and receiver.temp is None:
            refused = Refused(400, "no file: the image goes in a field named 'file'")
        if refused is None and receiver.size == 0:
            refused = Refused(400, "the file is empty: nothing to scan")
    except BaseException:                       # the client went away (ClientDisconnect), the server stops
        receiver.discard()
        raise
    if refused is not None:
        receiver.discard()
        raise refused
    assert receiver.temp is not None
    return Received(receiver.temp, receiver.digest.hexdigest(), receiver.size, receiver.name, receiver.fields)


def keep(received: Received, folder: Path) -> Path:
    """The upload's file renamed to `folder/<sha256>`; where that is already there, the new
    copy is dropped."""
    target = folder / received.sha256
    if target.is_file() and not target.is_symlink():
        received.temp.unlink(missing_ok=True)
    else:
        received.temp.replace(target)
    return target


def image_info(received: Received) -> ImageInfo:
    """What the form said of the image; Refused (422) for a release date that is none."""
    given = received.fields
    released = given.get("release_date") or ""
    try:
        day = date.fromisoformat(released) if released else None
    except ValueError:
        raise Refused(422, f"release_date: {released[:40]!r} is no date (YYYY-MM-DD)") from None
    return ImageInfo(vendor=given.get("vendor") or None, product=given.get("product") or None,
                     version=given.get("version") or None, release_date=day, name=received.name)


def remove_stale(folder: Path | None) -> None:
    """Unfinished uploads a stopped server left (older than STALE_SECONDS)."""
    if folder is None or not folder.is_dir():
        return
    now = time.time()
    for left in folder.glob(f"{TEMP_PREFIX}*"):
        with suppress(OSError):
            if now - left.stat().st_mtime > STALE_SECONDS:
                left.unlink()


def size_text(n: int) -> str:
    for unit, scale in (("GiB", GiB), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:g} {unit}" if n % scale == 0 else f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
