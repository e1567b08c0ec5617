"""Triage marks keep their scope: the vendor and product of the image marked, and the image.

A mark follows a finding's key through the releases of one product (vendor and product as
the image row said when it was marked); where the image named no vendor or no product it holds
for that image alone (`image_sha256`). Marks made before this revision had no way to be set
(no verb wrote them), so the columns are added empty.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("triage") as batch:
        batch.add_column(sa.Column("vendor", sa.Text(), nullable=True))
        batch.add_column(sa.Column("product", sa.Text(), nullable=True))
        batch.add_column(sa.Column("image_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("triage") as batch:
        batch.drop_column("image_sha256")
        batch.drop_column("product")
        batch.drop_column("vendor")
