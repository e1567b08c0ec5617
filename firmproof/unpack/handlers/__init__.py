"""unblob handlers of our own, for containers unblob does not know (searched with its built-in ones)."""

from firmproof.unpack.handlers.androidboot import AndroidBootHandler
from firmproof.unpack.handlers.uimage import UImageHandler

HANDLERS = (UImageHandler, AndroidBootHandler)

__all__ = ["HANDLERS", "AndroidBootHandler", "UImageHandler"]
