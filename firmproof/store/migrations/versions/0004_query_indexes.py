"""Indexes for the questions asked of the whole store.

- `components (lower(name), version)`: `firmproof db component NAME` compares names in any
  case, which the `(name, version)` index cannot answer (every newest scan's components were
  read: 345,000 rows on a store of 10,000 scans).
- `scans (status, image_id, id)`: every query over "each image's newest scan" groups the ok
  scans by image for their greatest id; with this index that is a walk of the index, and the
  planner can start from the images a vendor or product filter names.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_components_lower_name_version", "components", [sa.text("lower(name)"), "version"])
    op.create_index(op.f("ix_scans_status_image_id_id"), "scans", ["status", "image_id", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_scans_status_image_id_id"), table_name="scans")
    op.drop_index("ix_components_lower_name_version", table_name="components")
