"""Each image's newest scan that gave a report, kept on the image by the writer.

The vendor view, the corpus search and `firmproof db` ask about "each image's newest scan";
they grouped every ok scan by image for its greatest id, once per question and sometimes twice
per page (a vendor page of a store of 10,000 scans took seconds). `images.newest_scan_id` holds
it: set from the scans already stored here, then by `add_report` as it adds a scan.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("images", sa.Column("newest_scan_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_images_newest_scan_id"), "images", ["newest_scan_id"])
    op.execute("UPDATE images SET newest_scan_id = (SELECT max(scans.id) FROM scans "
               "WHERE scans.image_id = images.id AND scans.status = 'ok')")


def downgrade() -> None:
    op.drop_index(op.f("ix_images_newest_scan_id"), table_name="images")
    # not a batch: SQLite's batch copies the table, and dropping the old images table would
    # cascade to every scan (foreign keys are on); both databases drop a column in place
    op.execute("ALTER TABLE images DROP COLUMN newest_scan_id")
