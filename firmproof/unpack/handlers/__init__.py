"""unblob handlers of our own, for containers unblob does not know (searched with its built-in ones)."""

from firmproof.unpack.handlers.uimage import UImageHandler

HANDLERS = (UImageHandler,)

__all__ = ["HANDLERS", "UImageHandler"]
