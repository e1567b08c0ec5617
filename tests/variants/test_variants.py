"""Every variant of the corpus: a true variant must be found at its place, a decoy must not
get a finding of the categories it names. Shapes the scanner does not find yet are marked
(strict: the day one is found, the mark must go)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import need_tools
from tests.variants.corpus import Variant, build, judge, scan_image
from tests.variants.families import all_variants


def _param(variant: Variant) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=variant.known_miss)] if variant.known_miss else []
    return pytest.param(variant, id=variant.ident, marks=marks)


@pytest.mark.parametrize("variant", [_param(v) for v in all_variants()])
def test_variant(variant: Variant, tmp_path: Path) -> None:
    need_tools("mksquashfs", "busybox")
    findings = scan_image(build(variant, tmp_path), tmp_path)
    verdict = judge(variant, findings)
    shown = [(f.rule.id, f.category.value, f.path, f.title) for f in findings]
    if variant.decoy:
        assert not verdict.false_alarms, shown
    else:
        assert verdict.found, f"no {variant.expect} in {shown}"
