"""The results store's tables: images, their scans, and what each scan found.

One row per image (by SHA-256), one per scan of it (by firmproof version and rules version),
and under each scan its findings and components as rows, so that questions across images
("which products ship this key, since which release?") are SQL, not a re-read of JSON.
Triage marks hang on a finding's `key` (rule, path, evidence), not on a scan, so that they
follow the same finding into later releases.

What a scan saw besides its findings is rows too (`shipped_keys`, `executables`,
`boot_entries`, `setuid_files`): every key and executable shipped, whether or not a rule
fired, indexed by fingerprint and sha256 (then the scan), so that "where else is this key?"
is an index scan.

Changing a table means a new migration in `migrations/versions/` (the store runs them when it
is opened); `tests/store` checks that the migrations build exactly these tables.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

SEVERITIES = ("critical", "high", "medium", "low", "info")
TRIAGE_STATES = ("confirmed", "false-positive", "accepted-risk", "fixed")
SCAN_STATUSES = ("ok", "error")
KEY_KINDS = ("private", "authorized")

NUL = "\x00"


def without_nul(value: Any) -> Any:
    """`value` with every NUL character of its strings (and keys) written as the four
    characters `\\x00`, as report excerpts write it: PostgreSQL's jsonb and text refuse NUL,
    and both databases must hold the same rows. The report itself is kept whole (ReportBlob)."""
    if isinstance(value, str):
        return value.replace(NUL, "\\x00") if NUL in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(v) for v in value]
    return value


class _Json(TypeDecorator[Any]):
    """JSON columns: jsonb on PostgreSQL (indexable, compared by value), JSON text on SQLite;
    strings stored without NUL (`without_nul`)."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return without_nul(value)


Json = _Json()


class _Text(TypeDecorator[str]):
    """Text read from the image (a command line, a key's comment, a title quoting a file):
    stored without NUL (`without_nul`), which PostgreSQL's text refuses."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return without_nul(value)


ImageText = _Text()


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in UTC: stored without a zone (SQLite has none), read back as aware UTC on
    every database, so that rows compare equal whatever stored them."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"{value!r}: a moment without a time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_known")


class Base(DeclarativeBase):
    # constraint names fixed by convention, so that migrations can name what they change
    metadata = MetaData(naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


class Image(Base):
    """A firmware image, by its bytes. `*_guessed` says the value was inferred from the image
    (headers, strings, build files), not given by whoever submitted it."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(ImageText)
    size: Mapped[int] = mapped_column(BigInteger)
    vendor: Mapped[str | None] = mapped_column(ImageText, index=True)
    product: Mapped[str | None] = mapped_column(ImageText, index=True)
    version: Mapped[str | None] = mapped_column(ImageText)
    release_date: Mapped[date | None] = mapped_column(Date)
    vendor_guessed: Mapped[bool] = mapped_column(Boolean, default=False)
    product_guessed: Mapped[bool] = mapped_column(Boolean, default=False)
    version_guessed: Mapped[bool] = mapped_column(Boolean, default=False)
    release_date_guessed: Mapped[bool] = mapped_column(Boolean, default=False)
    # the newest scan that gave a report (status 'ok'), kept by the writer as it adds one: the
    # questions about "each image's newest scan" (vendor view, search, `db` verbs) read it where
    # they grouped the whole scans table. No foreign key: scans already refer to images, and a
    # cycle would order every insert and drop; the writer sets it in the scan's transaction.
    newest_scan_id: Mapped[int | None] = mapped_column(Integer, index=True)

    scans: Mapped[list[Scan]] = relationship(back_populates="image")


class Scan(Base):
    """One scan of an image by one firmproof version with one rule set. The same image scanned
    again by the same versions is the same scan; `status` 'error' records an image that could
    not be scanned (`error` says why), with no findings."""

    __tablename__ = "scans"
    __table_args__ = (
        UniqueConstraint("image_id", "tool_version", "rules_version"),
        _one_of("status", SCAN_STATUSES),
        Index(None, "status", "image_id", "id"),        # an image's scans by status, newest last
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    tool_version: Mapped[str] = mapped_column(String(64))
    rules_version: Mapped[str] = mapped_column(String(64))
    schema: Mapped[str] = mapped_column(String(64))       # the report's schema, firmproof.report/1
    started: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seconds: Mapped[float | None] = mapped_column(Float)
    complete: Mapped[bool | None] = mapped_column(Boolean)           # coverage.complete
    examined_share: Mapped[float | None] = mapped_column(Float)      # coverage.examined_share
    incomplete: Mapped[int | None] = mapped_column(Integer)          # coverage.incomplete_count
    unpacked_files: Mapped[int | None] = mapped_column(BigInteger)
    unpacked_bytes: Mapped[int | None] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(Integer, default=0)          # analyzer and unpack errors
    findings_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(8), default="ok")
    error: Mapped[str | None] = mapped_column(ImageText)

    image: Mapped[Image] = relationship(back_populates="scans")
    findings: Mapped[list[FindingRow]] = relationship(back_populates="scan", cascade="all, delete-orphan",
                                                      passive_deletes=True)
    components: Mapped[list[ComponentRow]] = relationship(back_populates="scan",
                                                          cascade="all, delete-orphan",
                                                          passive_deletes=True)


class ReportBlob(Base):
    """The report itself (its JSON, zlib-compressed), so that a stored scan can be re-checked
    (`verify`) or rendered again in any format without the original file."""

    __tablename__ = "reports"

    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class FindingRow(Base):
    """A finding of a scan, as the report has it. `key` is what triage follows across releases:
    the hash of the rule, the path and the evidence bytes as the report shows them."""

    __tablename__ = "findings"
    __table_args__ = (_one_of("severity", SEVERITIES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[str] = mapped_column(String(64))          # the report's stable id
    rule: Mapped[str] = mapped_column(String(32), index=True)
    category: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(ImageText)
    path: Mapped[str] = mapped_column(ImageText)
    container: Mapped[list[str]] = mapped_column(Json)
    evidence_sha256: Mapped[str] = mapped_column(String(64), index=True)
    evidence_offset: Mapped[int] = mapped_column(BigInteger)
    evidence_length: Mapped[int] = mapped_column(BigInteger)
    excerpt: Mapped[str] = mapped_column(ImageText)
    details: Mapped[dict[str, Any]] = mapped_column(Json)
    references: Mapped[list[str]] = mapped_column(Json)
    key: Mapped[str] = mapped_column(String(64), index=True)

    scan: Mapped[Scan] = relationship(back_populates="findings")


class ComponentRow(Base):
    """A component (SBOM entry) a scan identified: what, which version, where, read how."""

    __tablename__ = "components"
    __table_args__ = (Index(None, "name", "version"),
                      # `db component NAME` matches the name in any case
                      Index("ix_components_lower_name_version", func.lower(text("name")), "version"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(ImageText)
    version: Mapped[str] = mapped_column(ImageText)
    source: Mapped[str] = mapped_column(String(16))         # binary, opkg, dpkg, android, apk
    cpe: Mapped[str | None] = mapped_column(ImageText)
    purl: Mapped[str] = mapped_column(ImageText)
    path: Mapped[str] = mapped_column(ImageText)
    container: Mapped[list[str]] = mapped_column(Json)
    version_from: Mapped[str] = mapped_column(String(16))   # content, file name
    evidence_sha256: Mapped[str] = mapped_column(String(64), index=True)
    evidence_offset: Mapped[int] = mapped_column(BigInteger)
    evidence_length: Mapped[int] = mapped_column(BigInteger)

    scan: Mapped[Scan] = relationship(back_populates="components")


class Triage(Base):
    """A person's word on a finding, by its key: every mark is kept, the latest one holds.

    Its scope (`firmproof.store.triage`): the finding's key in every release of the product
    `vendor`/`product` the marked image belonged to; where the image named no vendor or no
    product, the image `image_sha256` alone (the image marked, kept either way)."""

    __tablename__ = "triage"
    __table_args__ = (_one_of("state", TRIAGE_STATES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    vendor: Mapped[str | None] = mapped_column(ImageText)
    product: Mapped[str | None] = mapped_column(ImageText)
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(ImageText, default="")
    who: Mapped[str] = mapped_column(ImageText)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShippedKeyRow(Base):
    """A private key or an authorized key line a scan saw (a finding or not), by fingerprint."""

    __tablename__ = "shipped_keys"
    __table_args__ = (_one_of("kind", KEY_KINDS), Index(None, "fingerprint", "scan_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    fingerprint: Mapped[str | None] = mapped_column(String(80))   # 'SHA256:…'; None: sealed
    kind: Mapped[str] = mapped_column(String(16))                 # private, authorized
    type: Mapped[str] = mapped_column(String(32))                 # rsa-2048, ssh-ed25519…
    path: Mapped[str] = mapped_column(ImageText)
    container: Mapped[list[str]] = mapped_column(Json)
    number: Mapped[int] = mapped_column(Integer)                  # the n-th key of the file
    offset: Mapped[int] = mapped_column(BigInteger)
    comment: Mapped[str] = mapped_column(ImageText, default="")


class ExecutableRow(Base):
    """An ELF file a scan saw, by its bytes. A packed program (`packer` 'upx') is the file the
    file system holds, by its packed bytes; `unpacked_sha256` the program unpacked from it (None:
    it could not be unpacked)."""

    __tablename__ = "executables"
    __table_args__ = (Index(None, "sha256", "scan_id"), Index(None, "unpacked_sha256", "scan_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(ImageText)
    container: Mapped[list[str]] = mapped_column(Json)
    size: Mapped[int] = mapped_column(BigInteger)
    packer: Mapped[str | None] = mapped_column(String(16))
    unpacked_sha256: Mapped[str | None] = mapped_column(String(64))


class BootEntryRow(Base):
    """A command a scan saw started at boot (or by cron, inetd…): what runs, from which file."""

    __tablename__ = "boot_entries"
    __table_args__ = (Index(None, "name", "scan_id"), Index(None, "binary_sha256", "scan_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    file: Mapped[str] = mapped_column(ImageText)                       # the file that holds the line
    offset: Mapped[int] = mapped_column(BigInteger)
    command: Mapped[str] = mapped_column(ImageText)
    name: Mapped[str] = mapped_column(ImageText)                       # argv[0]'s base name
    binary: Mapped[str | None] = mapped_column(ImageText)              # the file that runs, if shipped
    binary_sha256: Mapped[str | None] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(16))                  # inittab, script, systemd, cron…
    chain: Mapped[list[str]] = mapped_column(Json)                # how boot reaches `file`
    port: Mapped[int | None] = mapped_column(Integer)
    listener: Mapped[bool] = mapped_column(Boolean)               # a network daemon or a port
    container: Mapped[list[str]] = mapped_column(Json)


class SetuidFileRow(Base):
    """A setuid or setgid file a scan saw."""

    __tablename__ = "setuid_files"
    __table_args__ = (Index(None, "sha256", "scan_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(ImageText)
    container: Mapped[list[str]] = mapped_column(Json)
    mode: Mapped[int] = mapped_column(Integer)
    uid: Mapped[int | None] = mapped_column(Integer)
    gid: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
