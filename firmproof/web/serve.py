"""`firmproof serve`: the web application over a store, on one address.

Bound to a loopback address it needs no login; bound to any other it refuses to start unless
authentication is configured, so that a store is never published by accident."""

from __future__ import annotations

import ipaddress
import logging
import sys

log = logging.getLogger(__name__)

EXIT_OK, EXIT_REFUSED = 0, 2


def is_loopback(host: str) -> bool:
    """`host` is a loopback address (127.0.0.0/8, ::1) or the name localhost; any other name
    counts as public, whatever it resolves to today."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(db: str | None, host: str, port: int) -> int:
    """Serve until stopped; the exit code."""
    if not is_loopback(host):
        print(f"firmproof: refusing to serve on {host}: it is not a loopback address and no "
              "authentication is configured", file=sys.stderr)
        return EXIT_REFUSED
    import uvicorn

    from firmproof.store import StoreError, open_store
    from firmproof.web.app import create_app

    try:
        store = open_store(db)
    except StoreError as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        uvicorn.run(create_app(store), host=host, port=port, log_level="warning")
    finally:
        store.close()
    return EXIT_OK
