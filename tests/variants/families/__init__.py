"""Every family of the variant corpus; `ALL` lists their variants."""

from __future__ import annotations

from tests.variants.corpus import Variant
from tests.variants.families import boot


def all_variants() -> list[Variant]:
    return [*boot.variants()]
