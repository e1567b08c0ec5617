"""The first schema: images, scans, their reports, findings and components; triage marks.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("vendor", sa.Text(), nullable=True),
        sa.Column("product", sa.Text(), nullable=True),
        sa.Column("version", sa.Text(), nullable=True),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("vendor_guessed", sa.Boolean(), nullable=False),
        sa.Column("product_guessed", sa.Boolean(), nullable=False),
        sa.Column("version_guessed", sa.Boolean(), nullable=False),
        sa.Column("release_date_guessed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("sha256", name=op.f("uq_images_sha256")),
    )
    op.create_index(op.f("ix_images_product"), "images", ["product"])
    op.create_index(op.f("ix_images_vendor"), "images", ["vendor"])

    op.create_table(
        "triage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('confirmed', 'false-positive', 'accepted-risk', 'fixed')",
            name=op.f("ck_triage_state_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage")),
    )
    op.create_index(op.f("ix_triage_key"), "triage", ["key"])

    op.create_table(
        "scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("tool_version", sa.String(length=64), nullable=False),
        sa.Column("rules_version", sa.String(length=64), nullable=False),
        sa.Column("schema", sa.String(length=64), nullable=False),
        sa.Column("started", sa.DateTime(), nullable=True),
        sa.Column("finished", sa.DateTime(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=True),
        sa.Column("examined_share", sa.Float(), nullable=True),
        sa.Column("incomplete", sa.Integer(), nullable=True),
        sa.Column("unpacked_files", sa.BigInteger(), nullable=True),
        sa.Column("unpacked_bytes", sa.BigInteger(), nullable=True),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("findings_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('ok', 'error')", name=op.f("ck_scans_status_known")),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_scans_image_id_images"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
        sa.UniqueConstraint(
            "image_id",
            "tool_version",
            "rules_version",
            name=op.f("uq_scans_image_id_tool_version_rules_version"),
        ),
    )
    op.create_index(op.f("ix_scans_image_id"), "scans", ["image_id"])

    op.create_table(
        "components",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("cpe", sa.Text(), nullable=True),
        sa.Column("purl", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("container", JSON, nullable=False),
        sa.Column("version_from", sa.String(length=16), nullable=False),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=False),
        sa.Column("evidence_offset", sa.BigInteger(), nullable=False),
        sa.Column("evidence_length", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name=op.f("fk_components_scan_id_scans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_components")),
    )
    op.create_index(op.f("ix_components_evidence_sha256"), "components", ["evidence_sha256"])
    op.create_index(op.f("ix_components_name_version"), "components", ["name", "version"])
    op.create_index(op.f("ix_components_scan_id"), "components", ["scan_id"])

    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("container", JSON, nullable=False),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=False),
        sa.Column("evidence_offset", sa.BigInteger(), nullable=False),
        sa.Column("evidence_length", sa.BigInteger(), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("references", JSON, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "severity IN ('critical', 'high', 'medium', 'low', 'info')",
            name=op.f("ck_findings_severity_known"),
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name=op.f("fk_findings_scan_id_scans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    op.create_index(op.f("ix_findings_evidence_sha256"), "findings", ["evidence_sha256"])
    op.create_index(op.f("ix_findings_key"), "findings", ["key"])
    op.create_index(op.f("ix_findings_rule"), "findings", ["rule"])
    op.create_index(op.f("ix_findings_scan_id"), "findings", ["scan_id"])

    op.create_table(
        "reports",
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name=op.f("fk_reports_scan_id_scans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("scan_id", name=op.f("pk_reports")),
    )


def downgrade() -> None:
    op.drop_table("reports")
    op.drop_index(op.f("ix_findings_scan_id"), table_name="findings")
    op.drop_index(op.f("ix_findings_rule"), table_name="findings")
    op.drop_index(op.f("ix_findings_key"), table_name="findings")
    op.drop_index(op.f("ix_findings_evidence_sha256"), table_name="findings")

    op.drop_table("findings")
    op.drop_index(op.f("ix_components_scan_id"), table_name="components")
    op.drop_index(op.f("ix_components_name_version"), table_name="components")
    op.drop_index(op.f("ix_components_evidence_sha256"), table_name="components")

    op.drop_table("components")
    op.drop_index(op.f("ix_scans_image_id"), table_name="scans")

    op.drop_table("scans")
    op.drop_index(op.f("ix_triage_key"), table_name="triage")

    op.drop_table("triage")
    op.drop_index(op.f("ix_images_vendor"), table_name="images")
    op.drop_index(op.f("ix_images_product"), table_name="images")

    op.drop_table("images")
