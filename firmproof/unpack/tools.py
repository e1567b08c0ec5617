"""The external commands unblob's handlers extract with, for `firmproof doctor`: unblob is
imported under `firmproof/unpack/` only (a ruff rule keeps it so)."""

from __future__ import annotations


def extractor_commands() -> dict[str, list[str]]:
    """{command an unblob extractor runs: the names of the handlers that need it}."""
    from unblob.handlers import BUILTIN_HANDLERS

    formats: dict[str, list[str]] = {}
    for handler in BUILTIN_HANDLERS:
        extractor = getattr(handler, "EXTRACTOR", None)
        for dep in extractor.get_dependencies() if extractor is not None else ():
            formats.setdefault(dep, []).append(handler.NAME)
    return formats
