"""The table of container formats (firmproof/unpack/formats.py) is the one registry: it names
every handler that searches an image, and what it says about each format agrees with the
handlers themselves."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from firmproof.unpack import formats
from firmproof.unpack.formats import FORMATS


def _unblob_handlers() -> tuple[type, ...]:
    from unblob.handlers import BUILTIN_HANDLERS

    return tuple(BUILTIN_HANDLERS)


def _deps(fmt: formats.Format) -> set[str]:
    """The programs unblob's extractors of the format's handlers would run."""
    deps: set[str] = set()
    for handler in formats.handlers():
        if handler.NAME not in fmt.handlers:
            continue
        if getattr(handler, "EXTRACTOR", None) is not None:
            deps.update(handler.EXTRACTOR.get_dependencies())
        else:
            deps.update(_chunk_commands(handler))
    return deps


def _chunk_commands(handler: type) -> set[str]:
    """The programs a handler without an extractor runs from its chunk's own `extract` (the
    ELF handler's `upx -d` on a UPX-packed program): the `Command(...)` of its module."""
    source = inspect.getsource(inspect.getmodule(handler))     # type: ignore[arg-type]
    return set(re.findall(r'Command\(\s*"([^"]+)"', source))


def test_the_elf_handler_runs_upx() -> None:
    elf = formats.of("elf64")
    assert elf.tools == ("upx",) and _deps(elf) == {"upx"}


def test_every_unblob_handler_has_an_entry_and_every_name_a_handler() -> None:
    """A handler a new unblob release adds fails here until its format has an entry."""
    builtin = {h.NAME for h in _unblob_handlers()}
    named = {name for fmt in FORMATS if not fmt.handler for name in fmt.handlers}
    assert builtin == named


def test_own_handlers_are_named_as_their_entries() -> None:
    for fmt in FORMATS:
        if fmt.handler:
            handler = formats._load(fmt.handler)
            assert (handler.NAME,) == fmt.handlers, fmt.family
            assert handler.PATTERNS and handler.DOC.references, fmt.family


def test_families_and_handler_names_are_unique() -> None:
    families = [fmt.family for fmt in FORMATS]
    assert len(families) == len(set(families))
    names = [name for fmt in FORMATS for name in fmt.handlers]
    assert len(names) == len(set(names))


def test_search_order_is_unblobs_then_ours() -> None:
    searched = formats.handlers()
    builtin = _unblob_handlers()
    assert searched[:len(builtin)] == builtin
    assert [h.NAME for h in searched[len(builtin):]] == [
        "uimage", "android_boot", "android_payload", "android_super", "android_super_empty",
        "truncated_squashfs", "truncated_uimage", "truncated_cramfs", "truncated_extfs"]


@pytest.mark.parametrize(("handler", "family"), [
    ("squashfs_v4_le", "squashfs"), ("squashfs_v3_ddwrt", "squashfs"), ("jffs2_old", "jffs2"),
    ("cpio_binary", "cpio"), ("lz4_skippable", "lz4"), ("minix_fs_v3", "minix_fs"), ("trx_v2", "trx"),
    ("stuffit5", "stuffit"), ("alpha_encimg_v1", "alpha_encimg"), ("elf64", "elf"), ("gzip", "gzip"),
    ("truncated_squashfs", "truncated_squashfs"), ("android_super", "android_super"),
    ("no-such-handler", "no-such-handler")])
def test_family_labels(handler: str, family: str) -> None:
    assert formats.of(handler).family == family


def test_tools_are_what_the_extraction_runs() -> None:
    """unblob's extractor runs for a format without a stream or a reader of ours: its tools are
    the ones that extractor declares. A reader of ours replaces them; a stream runs none."""
    for fmt in FORMATS:
        if fmt.stream is not None:
            assert fmt.tools == () and fmt.reader is None, fmt.family
        elif fmt.reader is not None:
            assert fmt.tools == () and set(fmt.reader.replaces) == _deps(fmt), fmt.family
        else:
            assert set(fmt.tools) == _deps(fmt), fmt.family


def test_readers_and_streams_take_the_place_of_unblobs_extraction() -> None:
    """Metadata is read after unblob's extractor; a format read or decoded by firmproof has none
    to read (our SquashFS reader gives its own), and only an archive extracted by unblob can be
    refused before it runs."""
    for fmt in FORMATS:
        if fmt.stream is not None or fmt.reader is not None:
            assert fmt.metadata is None and fmt.small is None and fmt.refuse is None, fmt.family


def test_stream_magics_are_distinct_prefixes() -> None:
    magics = [magic for _name, magic in formats.STREAM_MAGICS]
    assert {name for name, _ in formats.STREAM_MAGICS} == {"gzip", "xz", "bzip2", "zstd"}
    for a in magics:
        assert [b for b in magics if b.startswith(a)] == [a]


def test_every_own_handler_has_a_test() -> None:
    """A handler of ours is named (its module or its class) by a test file other than this one."""
    here = Path(__file__).resolve()
    texts = [path.read_text(errors="replace") for path in here.parent.parent.rglob("test_*.py")
             if path != here]
    for fmt in FORMATS:
        if fmt.handler:
            module, _, name = fmt.handler.partition(":")
            assert any(module in text or name in text for text in texts), \
                f"{fmt.family}: no test names {fmt.handler}"


def test_the_example_in_the_docs_is_the_tree() -> None:
    """docs/adding-a-format.md shows the uImage entry and handler as they are in the tree."""
    repo = Path(__file__).resolve().parent.parent.parent
    diff = (repo / "docs" / "adding-a-format.md").read_text().split("```diff\n", 1)[1].split("```", 1)[0]
    files = {}
    for part in diff.split("diff --git ")[1:]:
        path = part.split("\n", 1)[0].split(" b/", 1)[1]
        files[path] = [line[1:] for line in part.splitlines()
                       if line.startswith("+") and not line.startswith("+++")]
    handler = repo / "firmproof/unpack/handlers/uimage.py"
    assert "\n".join(files["firmproof/unpack/handlers/uimage.py"]) + "\n" == handler.read_text()
    table = (repo / "firmproof/unpack/formats.py").read_text().splitlines()
    assert files["firmproof/unpack/formats.py"] and all(
        line in table for line in files["firmproof/unpack/formats.py"])
