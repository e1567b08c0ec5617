"""The families of the variant corpus: every module here with a `variants()` function."""

from __future__ import annotations

import importlib
import pkgutil

from tests.variants.corpus import Variant


def all_variants() -> list[Variant]:
    out: list[Variant] = []
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        out.extend(importlib.import_module(f"{__name__}.{module}").variants())
    return out
