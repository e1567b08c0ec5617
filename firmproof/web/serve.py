"""`firmproof serve`: the web application over a store, on one address.

Bound to a loopback address it needs no login unless authentication is configured (`--auth
FILE`, or the default file where `firmproof user add` wrote it); bound to any other address it
refuses to start without, so that a store is never published by accident."""

from __future__ import annotations

import gc
import ipaddress
import sys
from datetime import timedelta
from pathlib import Path

from firmproof.config import MIN_EXAMINED, Limits
from firmproof.web.auth import AuthError, AuthFile, default_path

EXIT_OK, EXIT_REFUSED = 0, 2
GC_THRESHOLD = 50_000       # allocations between two collections of the youngest objects


def is_loopback(host: str) -> bool:
    """`host` is a loopback address (127.0.0.0/8, ::1) or the name localhost; any other name
    counts as public, whatever it resolves to today."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_auth(path: Path | None) -> AuthFile | None:
    """The authentication file given (it must exist), else the default one where it exists;
    None where neither holds a user or a token."""
    if path is not None and not path.is_file():
        raise AuthError(f"{path}: no such authentication file (make it with `firmproof user add`)")
    auth = AuthFile(path or default_path())
    return auth if auth.configured else None


def default_data_dir() -> Path:
    """The user data folder (platformdirs), where the default store lives too."""
    from platformdirs import user_data_path

    return user_data_path("firmproof")


def serve(db: str | None, host: str, port: int, auth_path: Path | None = None,
          data_dir: Path | None = None, upload_limit: int | None = None, limits: Limits | None = None,
          min_examined: float = MIN_EXAMINED, keep_jobs: timedelta | None = None) -> int:
    """Serve until stopped; the exit code. Uploaded images are scanned under `limits` and
    `min_examined` (the configuration file's and `serve`'s flags, as `scan` takes them); an
    upload job is forgotten `keep_jobs` after it ended (default `jobs.RETENTION`)."""
    try:
        auth = load_auth(auth_path)
    except AuthError as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    if auth is None and not is_loopback(host):
        print(f"firmproof: refusing to serve on {host}: it is not a loopback address and no "
              "authentication is configured (`firmproof user add NAME`, then --auth FILE)", file=sys.stderr)
        return EXIT_REFUSED
    import uvicorn

    from firmproof.store import StoreError, open_store
    from firmproof.web.app import create_app
    from firmproof.web.jobs import RETENTION

    try:
        store = open_store(db)
    except StoreError as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        app = create_app(store, auth, data_dir or default_data_dir(),
                         **({"upload_limit": upload_limit} if upload_limit is not None else {}),
                         scan_limits=limits, min_examined=min_examined, job_retention=keep_jobs or RETENTION)
        # a vendor view makes some 100,000 short-lived objects: at the collector's default first
        # threshold (700) each request ran a hundred collections and, now and then, a full one
        # over the whole server (in process, the view's slowest of 40: 297 ms, 211 ms with this;
        # the vendor API's p95 on the bench store 369 -> 256 ms)
        gc.set_threshold(GC_THRESHOLD, 50, 100)
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        store.close()
    return EXIT_OK
