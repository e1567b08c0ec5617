"""The one error type of the SquashFS reader."""

from __future__ import annotations


class SquashFSError(ValueError):
    """The image (or one part of it) cannot be read; the message is one line."""


class DecodeError(SquashFSError):
    """A compressed block could not be decoded by any decoder tried."""
