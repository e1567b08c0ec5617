"""Inventory rows: the keys, executables, boot entries and setuid files each scan saw.

Typed tables rather than one (section, key, value) table: each is asked its own question
("where else is this key / this executable / this daemon started at boot?") by its own
column, with an index on that column and the scan, so that the lookup is an index scan and
the scan's image is one join away.

Scans stored before this revision have no inventory; their key findings (which carry the
fingerprint) become key rows here, so that `firmproof db key` still finds what it found
before. Keys that made no finding, executables and boot entries of those scans are not known.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _scan_id(table: str) -> list[Any]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], name=op.f(f"fk_{table}_scan_id_scans"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    op.create_table(
        "shipped_keys",
        *_scan_id("shipped_keys"),
        sa.Column("fingerprint", sa.String(length=80), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("container", JSON, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('private', 'authorized')", name=op.f("ck_shipped_keys_kind_known")),
    )
    op.create_index(op.f("ix_shipped_keys_fingerprint_scan_id"), "shipped_keys", ["fingerprint", "scan_id"])
    op.create_index(op.f("ix_shipped_keys_scan_id"), "shipped_keys", ["scan_id"])

    op.create_table(
        "executables",
        *_scan_id("executables"),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("container", JSON, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
    )
    op.create_index(op.f("ix_executables_sha256_scan_id"), "executables", ["sha256", "scan_id"])
    op.create_index(op.f("ix_executables_scan_id"), "executables", ["scan_id"])

    op.create_table(
        "boot_entries",
        *_scan_id("boot_entries"),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("binary", sa.Text(), nullable=True),
        sa.Column("binary_sha256", sa.String(length=64), nullable=True),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("chain", JSON, nullable=False),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("listener", sa.Boolean(), nullable=False),
        sa.Column("container", JSON, nullable=False),
    )
    op.create_index(op.f("ix_boot_entries_binary_sha256_scan_id"), "boot_entries",
                    ["binary_sha256", "scan_id"])
    op.create_index(op.f("ix_boot_entries_name_scan_id"), "boot_entries", ["name", "scan_id"])
    op.create_index(op.f("ix_boot_entries_scan_id"), "boot_entries", ["scan_id"])

    op.create_table(
        "setuid_files",
        *_scan_id("setuid_files"),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("container", JSON, nullable=False),
        sa.Column("mode", sa.Integer(), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=True),
        sa.Column("gid", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
    )
    op.create_index(op.f("ix_setuid_files_sha256_scan_id"), "setuid_files", ["sha256", "scan_id"])
    op.create_index(op.f("ix_setuid_files_scan_id"), "setuid_files", ["scan_id"])
    _keys_of_earlier_scans()


KINDS = {"key.private": "private", "key.authorized": "authorized"}     # finding category -> kind
BATCH = 1000


def _keys_of_earlier_scans() -> None:
    """The key findings of the scans already stored, as key rows (numbered by offset in the file)."""
    findings = sa.table("findings", sa.column("scan_id", sa.Integer()), sa.column("category", sa.String()),
                        sa.column("path", sa.Text()), sa.column("container", JSON),
                        sa.column("evidence_offset", sa.BigInteger()), sa.column("details", JSON))
    keys = sa.table("shipped_keys", sa.column("container", JSON), *(sa.column(name) for name in (
        "scan_id", "fingerprint", "kind", "type", "path", "number", "offset", "comment")))
    bind = op.get_bind()
    query = (sa.select(findings).where(findings.c.category.in_(sorted(KINDS)))
             .order_by(findings.c.scan_id, findings.c.path, findings.c.evidence_offset))
    rows: list[dict[str, Any]] = []
    last, number = None, 0
    for found in bind.execute(query).all():         # a few per scan: read before writing
        details = found.details or {}
        if not details.get("fingerprint"):
            continue
        place = (found.scan_id, found.path, str(found.container))
        number = number + 1 if place == last else 0
        last = place
        kind = KINDS[found.category]
        rows.append({"scan_id": found.scan_id, "fingerprint": details["fingerprint"], "kind": kind,
                     "type": str(details.get("key_type" if kind == "authorized" else "type")
                                 or details.get("type") or "unknown")[:32],
                     "path": found.path, "container": found.container, "number": number,
                     "offset": found.evidence_offset, "comment": details.get("comment") or ""})
        if len(rows) == BATCH:
            bind.execute(keys.insert(), rows)
            rows = []
    if rows:
        bind.execute(keys.insert(), rows)


def downgrade() -> None:
    for table in ("setuid_files", "boot_entries", "executables", "shipped_keys"):
        op.drop_table(table)          # its indexes go with it
