"""Golden reports: scan a fixed set of images in every output format, keep the reports, and
compare two such sets byte for byte, so that a change that must not change any report (the
one-model redesign, a refactoring) can show it did not.

    python bench/golden.py save LABEL [--set demo,formats,corpus,variants] [--formats json,sarif,...]
    python bench/golden.py compare LABEL_A LABEL_B

`save` builds the images once into build/golden/images/ (the demo router with its plants and
decoys; the demo root file system packed in every format firmproof's fixtures can write; the
variant corpus of tests/variants when asked), takes the shared corpus in ../shared/corpus/real
as it is (read in place, never copied), and writes each image's report in each format to
build/golden/LABEL/<image>.<format>, with the test suite's vulnerability records (real NVD and
OSV records) as the database. The times (the JSON report's `stats`, the SBOMs' creation time)
are dropped; every other byte is kept. `compare` lists the files that differ, are missing or are
new, with the first differing line of each, and exits 1 when any does.

Images are kept between runs (same bytes, same reports): delete build/golden/images/ to build
them anew, e.g. after the demo's contents change. The scans run the firmproof of the checkout
the script is in (its folder first on PYTHONPATH), so a git worktree of the commit before a
change gives the baseline while the working tree gives the change:

    git worktree add /tmp/before HEAD
    FIRMPROOF_GOLDEN=$PWD/build/golden .venv/bin/python /tmp/before/bench/golden.py save before
    .venv/bin/python bench/golden.py save after && .venv/bin/python bench/golden.py compare before after

($FIRMPROOF_GOLDEN: where images and reports go, default build/golden of the checkout.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GOLDEN = Path(os.environ.get("FIRMPROOF_GOLDEN", REPO / "build" / "golden"))
IMAGES = GOLDEN / "images"
CORPUS = REPO.parent / "shared" / "corpus" / "real"
# the firmproof of this checkout (a git worktree's bench/golden.py scans with that worktree's code),
# run by the interpreter running this script (the project's venv)
FIRMPROOF = [sys.executable, "-c", "import sys; from firmproof.cli import main; sys.exit(main())"]
SETS = ("demo", "formats", "corpus", "variants")
FORMATS = {"json": ["--format", "json"], "sarif": ["--format", "sarif"], "html": ["--format", "html"],
           "cdx": ["--format", "sbom"], "spdx": ["--format", "sbom", "--sbom-format", "spdx"]}


def demo_images() -> Iterator[Path]:
    from firmproof.testing.demo import build_image

    out = IMAGES / "demo.bin"
    if not out.is_file():
        build_image(out)
    yield out


def format_images() -> Iterator[Path]:
    import tempfile

    from firmproof.testing.demo import build_rootfs
    from firmproof.testing.fixtures import FORMATS as PACKS
    from firmproof.testing.fixtures import PackError, pack

    folder = IMAGES / "formats"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="golden-") as tmp:
        tree: Path | None = None
        for fmt in PACKS:
            out = folder / f"demo.{fmt}"
            if not out.is_file():
                tree = tree or build_rootfs(Path(tmp) / "root")
                try:
                    pack(tree, fmt, out)
                except PackError as exc:
                    print(f"formats: {fmt} left out: {exc}", file=sys.stderr)
                    continue
            yield out


def corpus_images() -> Iterator[Path]:
    if not CORPUS.is_dir():
        print(f"corpus: {CORPUS} is absent, left out", file=sys.stderr)
        return
    yield from sorted(p for p in CORPUS.iterdir() if p.is_file() and p.suffix not in (".md", ".json"))


def variant_images() -> Iterator[Path]:
    sys.path.insert(0, str(REPO))
    from tests.variants.corpus import build
    from tests.variants.families import all_variants

    folder = IMAGES / "variants"
    for variant in all_variants():
        yield build(variant, folder)


BUILDERS = {"demo": demo_images, "formats": format_images, "corpus": corpus_images,
            "variants": variant_images}


def vulndb() -> Path:
    """The test suite's real NVD and OSV records (tests/data/vulndb), imported once, so that the
    reports carry vulnerability findings too."""
    from firmproof.device.components import vulndb as db

    path = GOLDEN / "vulndb.sqlite"
    if not path.is_file():
        data = REPO / "tests" / "data" / "vulndb"
        db.import_files(sorted(data.glob("*/*.json")), path)
    return path


def scan(image: Path, fmt: str, out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([*FIRMPROOF, "scan", str(image), "-q", *FORMATS[fmt], "-o", str(out),
                           "--vulndb", str(vulndb())],
                          capture_output=True, text=True, check=False, env=env)
    if proc.returncode not in (0, 1, 3) or not out.is_file():   # findings (1) and incomplete (3) are
        out.write_text(f"exit {proc.returncode}\n{proc.stderr}")         # reports, a traceback (1) is not
        return
    if fmt in ("json", "cdx", "spdx"):      # the time of the scan is no part of what it found
        report = json.loads(out.read_text())
        report.pop("stats", None)
        out.write_text(json.dumps(_timeless(report) if fmt != "json" else report, indent=2,
                                  sort_keys=True) + "\n")


TIMES = ("timestamp", "created", "annotationDate")


def _timeless(value: object) -> object:
    """An SBOM without its times (CycloneDX `timestamp`, SPDX `created` and `annotationDate`)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def save(label: str, sets: list[str], formats: list[str]) -> int:
    folder = GOLDEN / label
    folder.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    count = 0
    for name in sets:
        for image in BUILDERS[name]():
            stem = f"{name}-{image.name}"
            for fmt in formats:
                scan(image, fmt, folder / f"{stem}.{fmt}")
                count += 1
            print(f"{stem}: done", file=sys.stderr)
    print(f"{label}: {count} reports in {time.monotonic() - start:.0f} s, in {folder}")
    return 0


def _first_difference(a: Path, b: Path) -> str:
    for number, (x, y) in enumerate(zip(a.read_text(errors="replace").splitlines(),
                                        b.read_text(errors="replace").splitlines(), strict=False),
                                    start=1):
        if x != y:
            return f"line {number}: {x[:120]!r} != {y[:120]!r}"
    return "one is longer"


def compare(first: str, second: str) -> int:
    a, b = GOLDEN / first, GOLDEN / second
    names_a = {p.name for p in a.iterdir()} if a.is_dir() else set()
    names_b = {p.name for p in b.iterdir()} if b.is_dir() else set()
    differ = [n for n in sorted(names_a & names_b) if (a / n).read_bytes() != (b / n).read_bytes()]
    for name in differ:
        print(f"differs  {name}: {_first_difference(a / name, b / name)}")
    for name in sorted(names_a - names_b):
        print(f"missing  {name} (only in {first})")
    for name in sorted(names_b - names_a):
        print(f"new      {name} (only in {second})")
    same = len(names_a & names_b) - len(differ)
    print(f"{same} identical, {len(differ)} differ, {len(names_a - names_b)} missing, "
          f"{len(names_b - names_a)} new")
    return 1 if differ or names_a != names_b else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    saving = verbs.add_parser("save", help="scan the images, keep the reports under LABEL")
    saving.add_argument("label")
    saving.add_argument("--set", default="demo,formats,corpus", help=f"of {','.join(SETS)}")
    saving.add_argument("--formats", default=",".join(FORMATS), help=f"of {','.join(FORMATS)}")
    comparing = verbs.add_parser("compare", help="byte for byte, two labels")
    comparing.add_argument("first")
    comparing.add_argument("second")
    args = parser.parse_args(argv)
    if args.verb == "compare":
        return compare(args.first, args.second)
    sets, formats = args.set.split(","), args.formats.split(",")
    unknown = [s for s in sets if s not in SETS] + [f for f in formats if f not in FORMATS]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    return save(args.label, sets, formats)


if __name__ == "__main__":
    sys.exit(main())
