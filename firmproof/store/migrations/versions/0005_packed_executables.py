"""Packed executables: the packer, and the sha256 of the program it gave back.

A UPX-packed program is one executable row at its path, by the sha256 of its packed bytes
(what the file system holds); `unpacked_sha256` is the program `upx -d` gave back (None: it could
not be unpacked), so that `firmproof db executable` finds an image by either. Rows stored before
this revision are of unpacked programs only (packed ones were not listed), so both columns stay
empty for them.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executables") as batch:
        batch.add_column(sa.Column("packer", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("unpacked_sha256", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_executables_unpacked_sha256_scan_id"), "executables",
                    ["unpacked_sha256", "scan_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_executables_unpacked_sha256_scan_id"), table_name="executables")
    with op.batch_alter_table("executables") as batch:
        batch.drop_column("unpacked_sha256")
        batch.drop_column("packer")
