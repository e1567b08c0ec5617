"""unblob handlers of our own, for containers unblob does not know (searched with its built-in ones)."""

from firmproof.unpack.handlers.androidboot import AndroidBootHandler
from firmproof.unpack.handlers.lpsuper import SuperEmptyHandler, SuperHandler
from firmproof.unpack.handlers.payload import PayloadHandler
from firmproof.unpack.handlers.truncated import HANDLERS as TRUNCATED
from firmproof.unpack.handlers.uimage import UImageHandler

HANDLERS = (UImageHandler, AndroidBootHandler, PayloadHandler, SuperHandler,
            SuperEmptyHandler, *TRUNCATED)

__all__ = ["HANDLERS", "AndroidBootHandler", "PayloadHandler", "SuperEmptyHandler", "SuperHandler",
           "UImageHandler"]
