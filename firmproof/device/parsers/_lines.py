"""Physical lines of a text with their offsets: the common ground of line-based parsers."""

from __future__ import annotations

from collections.abc import Iterator


def lines(text: str) -> Iterator[tuple[int, int, int, str]]:
    """(lineno, start, end, line) for every line; `end` excludes the newline and a
    trailing carriage return."""
    pos = 0
    lineno = 0
    n = len(text)
    while pos < n:
        lineno += 1
        j = text.find("\n", pos)
        end = n if j < 0 else j
        stop = end
        if stop > pos and text[stop - 1] == "\r":
            stop -= 1
        yield lineno, pos, stop, text[pos:stop]
        pos = end + 1


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span [start, end) of `text` without leading and trailing blanks."""
    while start < end and text[start] in " \t\r\f\v":
        start += 1
    while end > start and text[end - 1] in " \t\r\f\v":
        end -= 1
    return start, end
