"""Questions asked of the store (read only)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select

from firmproof.store.schema import Image, Scan

if TYPE_CHECKING:
    from firmproof.store.open import Store

CHUNK = 500          # hashes per IN (…): well below every database's bound on parameters


def stored_scans(store: Store, sha256s: Iterable[str], tool_version: str, rules: str) -> dict[str, str]:
    """The images among `sha256s` that have a scan by this tool and rules version: sha256 ->
    the scan's status ('ok' or 'error')."""
    wanted = sorted(set(sha256s))
    found: dict[str, str] = {}
    with store.sessions() as session:
        for start in range(0, len(wanted), CHUNK):
            rows = session.execute(
                select(Image.sha256, Scan.status).join(Scan, Scan.image_id == Image.id)
                .where(Image.sha256.in_(wanted[start:start + CHUNK]), Scan.tool_version == tool_version,
                       Scan.rules_version == rules))
            found.update({sha: status for sha, status in rows})
    return found
