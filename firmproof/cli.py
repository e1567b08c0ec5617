"""The command line: parse, build a config, call one function, choose the exit code."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmproof import __version__
from firmproof.config import (
    CONFIG_ENV,
    MIN_EXAMINED,
    ConfigError,
    GiB,
    Limits,
    ScanConfig,
    Settings,
    config_path,
    load_settings,
    override,
    parse_size,
)
from firmproof.host.children import Stopped, handle_stop_signals
from firmproof.host.tools import use_tool_path
from firmproof.model import Severity

if TYPE_CHECKING:
    from firmproof.store import Store

EXIT_OK, EXIT_FINDINGS, EXIT_UNREADABLE, EXIT_INCOMPLETE = 0, 1, 2, 3


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: a size such as 512M or 8G") from None


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text}: a share between 0 and 1")
    return value


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value <= 100_000:
        raise argparse.ArgumentTypeError(f"{text}: a number of days above 0, e.g. 30 or 0.5")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firmproof", description=(
        "Find the covert ways into a device from its firmware image, with evidence anyone can re-check."))
    parser.add_argument("--version", action="version", version=f"firmproof {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    scan = verbs.add_parser("scan", help="unpack an image and report its findings")
    scan.add_argument("image", type=Path, metavar="IMAGE")
    scan.add_argument("-o", "--output", type=Path, metavar="REPORT", help="write the report here")
    scan.add_argument("--format", choices=["json", "sarif", "html", "sbom"], default="json",
                      help="report format (default json)")
    scan.add_argument("--sbom-format", choices=["cyclonedx", "spdx"], default="cyclonedx",
                      help="the SBOM written by --format sbom: CycloneDX 1.6 or SPDX 2.3 JSON "
                           "(default cyclonedx)")
    scan.add_argument("--vex", type=Path, action="append", default=[], metavar="FILE",
                      help="CycloneDX VEX or OpenVEX JSON: mark the vulnerabilities it declares not "
                           "affecting (severity info); repeatable")
    scan.add_argument("--sign", type=Path, metavar="KEY",
                      help="ed25519 private key (PEM): write a DSSE envelope REPORT.dsse.json next to -o")
    scan.add_argument("--vendor")
    scan.add_argument("--product")
    scan.add_argument("--version", dest="image_version", metavar="VERSION")
    scan.add_argument("--fail-on", type=Severity.parse, metavar="SEVERITY",
                      help="exit 1 when a finding is at or above this severity")
    scan.add_argument("--workdir", type=Path, help="where to unpack (default: a temporary folder)")
    scan.add_argument("--keep", action="store_true", help="keep the unpacked files in --workdir")
    _add_limits(scan)
    scan.add_argument("--min-examined", type=_share, metavar="SHARE",
                      help="share of the image (0-1, filler excluded) that unpacked containers must "
                           f"cover for a complete scan (default {MIN_EXAMINED})")
    scan.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")
    scan.add_argument("--vulndb", type=Path, metavar="PATH",
                      help="offline vulnerability database (default: $FIRMPROOF_VULNDB or the user data dir)")

    verify = verbs.add_parser("verify", help="re-check every finding of a report against its image")
    verify.add_argument("report", type=Path, metavar="REPORT.json")
    verify.add_argument("image", type=Path, metavar="IMAGE")
    verify.add_argument("--key", type=Path, metavar="PUBKEY",
                        help="ed25519 public key (PEM): also check the report's signature envelope")
    verify.add_argument("--signature", type=Path, metavar="ENVELOPE",
                        help="the DSSE envelope (default: REPORT.json.dsse.json)")
    verify.add_argument("--json", action="store_true", help="print the verdicts as JSON on stdout")
    verify.add_argument("--workdir", type=Path, help="where to unpack (default: a temporary folder)")
    _add_limits(verify)

    diff = verbs.add_parser("diff", help="what changed between two images or two reports")
    diff.add_argument("old", type=Path, metavar="OLD")
    diff.add_argument("new", type=Path, metavar="NEW")
    diff.add_argument("--json", action="store_true", help="print the diff as JSON on stdout")
    diff.add_argument("--html", type=Path, metavar="FILE", help="also write the diff as one HTML file")
    _add_limits(diff)

    batch = verbs.add_parser("batch", help="scan many images into the results store",
                             description="Scan a folder's files, a list file's paths, a glob's matches or "
                                         "a CSV/JSON manifest's images (path,vendor,product,version,"
                                         "release_date) into the results store; images already "
                                         "scanned by this firmproof and rules version are skipped.")
    batch.add_argument("input", metavar="DIR|LIST|GLOB|MANIFEST")
    batch.add_argument("--db", metavar="URL",
                       help="the store: a SQLite path or URL, or postgresql://USER@HOST/DB "
                            "(default: SQLite in the user data folder)")
    batch.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run the scans on this dask.distributed cluster (its workers must read the "
                            "same paths) instead of a local process pool")
    batch.add_argument("-j", "--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)),
                       help="local worker processes (default: 2, or 1 on one core)")
    batch.add_argument("--image-timeout", type=float, metavar="SECONDS",
                       help="wall clock per image in a local worker, after which it is killed and the "
                            "image recorded as an error (default: twice --timeout plus 120 s)")
    batch.add_argument("--retry-errors", action="store_true",
                       help="scan again the images whose stored scan is an error")
    batch.add_argument("--workdir", type=Path, help="where the workers unpack (default: a temporary folder)")
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")
    _add_limits(batch)
    batch.add_argument("--min-examined", type=_share, metavar="SHARE",
                       help=f"share of an image unpacked for a complete scan (default {MIN_EXAMINED})")
    batch.add_argument("--vulndb", type=Path, metavar="PATH",
                       help="offline vulnerability database (default: $FIRMPROOF_VULNDB or the user "
                            "data dir)")

    _add_db(verbs)

    serve = verbs.add_parser("serve", help="web pages and a JSON API over the results store",
                             description="Serve the results store: pages for people, a JSON API "
                                         "(OpenAPI at /api/openapi.json). Bound to loopback by default. "
                                         "An admin may upload an image to scan (the page /upload, or "
                                         "POST /api/uploads): it is kept in the data folder's images/ "
                                         "under its sha256, queued, and scanned one at a time in a "
                                         "process of its own under the limits below; /uploads/ID shows "
                                         "its progress, then its scan. Jobs are kept in the data folder's "
                                         "uploads/: a server started again queues again those it finds "
                                         "unfinished; a done or failed job is removed after --keep-jobs "
                                         "days (its scan stays in the store, its image in images/).")
    serve.add_argument("--db", metavar="URL", help="the store (default: SQLite in the user data folder)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1); any other than loopback needs "
                            "authentication")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--auth", type=Path, metavar="FILE",
                       help="users and tokens (made by `firmproof user add`; default: the user config "
                            "folder's firmproof/users.json where it exists)")
    serve.add_argument("--data-dir", type=Path, metavar="DIR",
                       help="where the server keeps what it is given (uploaded images, under "
                            "images/ by their sha256; default: the user data folder)")
    serve.add_argument("--upload-limit", type=_size, metavar="SIZE",
                       help="the largest image an upload may be, e.g. 512M (default 1G); a larger "
                            "one is refused (413) as soon as it is")
    serve.add_argument("--keep-jobs", type=_days, metavar="DAYS",
                       help="how long a done or failed upload job is kept after it ended, in days "
                            "(default 30; fractions allowed): then its file in uploads/ is removed and "
                            "/uploads/ID answers 404; checked at start, when an upload comes and "
                            "hourly while no scan runs. Queued and scanning jobs are never removed; "
                            "the scan stays in the store and the image in images/ (the string search "
                            "reads it)")
    _add_limits(serve)                  # an uploaded image is scanned under these, as `scan` would
    _add_accounts(verbs)

    vulndb = verbs.add_parser("vulndb", help="the offline vulnerability database")
    vulndb_verbs = vulndb.add_subparsers(dest="vulndb_verb", required=True, metavar="ACTION")
    vulndb_import = vulndb_verbs.add_parser("import", help="load OSV / NVD JSON 2.0 files (also .zip, .gz)")
    vulndb_import.add_argument("files", type=Path, nargs="+", metavar="FILE")
    vulndb_import.add_argument("--db", type=Path, metavar="PATH",
                               help="database file (default: $FIRMPROOF_VULNDB or the user data dir)")
    vulndb_info = vulndb_verbs.add_parser("info", help="where the database is and what it holds")
    vulndb_info.add_argument("--db", type=Path, metavar="PATH")

    doctor = verbs.add_parser("doctor", help="every external tool and library firmproof uses, found or not")
    doctor.add_argument("--json", action="store_true", help="as JSON")
    doctor.add_argument("--brief", action="store_true",
                        help="one line when nothing is missing, else only what is missing")

    rules = verbs.add_parser("rules", help="list every rule")
    rules.add_argument("--json", action="store_true", help="as JSON")
    rules.add_argument("--markdown", action="store_true", help="as the Markdown of docs/rules.md")
    return parser


def _triage_state(text: str) -> str:
    from firmproof.store.schema import TRIAGE_STATES

    if text not in TRIAGE_STATES:
        raise argparse.ArgumentTypeError(f"{text}: one of {', '.join(TRIAGE_STATES)}")
    return text


def _triage_filter(text: str) -> str:
    return text if text in ("untriaged", "open") else _triage_state(text)


def _add_db(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = verbs.add_parser("db", help="ask the results store: images, scans, findings, keys, components")
    queries = db.add_subparsers(dest="db_verb", required=True, metavar="QUERY")

    def query(name: str, text: str) -> argparse.ArgumentParser:
        parser = queries.add_parser(name, help=text)
        parser.add_argument("--db", metavar="URL", help="the store (default: SQLite in the user data folder)")
        shape = parser.add_mutually_exclusive_group()
        shape.add_argument("--csv", action="store_true", help="as CSV on standard output")
        shape.add_argument("--json", action="store_true", help="as JSON on standard output")
        return parser

    for name, text in (("images", "every image and how its last scan went"),
                       ("scans", "every scan: image, firmproof and rules version, status"),
                       ("findings", "the findings of each image's newest scan")):
        parser = query(name, text)
        parser.add_argument("--vendor")
        parser.add_argument("--product")
        if name == "findings":
            parser.add_argument("--rule", metavar="RULE-ID")
            parser.add_argument("--severity", type=Severity.parse, metavar="SEVERITY",
                                help="this severity or above")
            parser.add_argument("--triage", type=_triage_filter, metavar="STATE",
                                help="in this triage state, 'untriaged', or 'open' (untriaged or "
                                     "confirmed)")
    query("key", "every image that ships the key with this fingerprint (private or authorized)").add_argument(
        "fingerprint", metavar="FINGERPRINT", help="OpenSSH's SHA256:… (the prefix may be left out)")
    query("executable", "every image that ships the executable with these bytes").add_argument(
        "sha256", metavar="SHA256", help="the file's SHA-256, in hex")
    component = query("component", "every image that holds this component (at this version)")
    component.add_argument("name", metavar="NAME")
    component.add_argument("version", nargs="?", metavar="VERSION")
    triage = query("triage", "mark a finding (its key, in every release of its product)")
    triage.add_argument("finding", metavar="KEY|SCAN:FINDING",
                        help="the finding's key (or its first 8 hex digits or more), or the scan and "
                             "finding ids `db findings` lists, as SCAN:FINDING")
    triage.add_argument("--state", required=True, type=_triage_state, metavar="STATE",
                        help="confirmed, false-positive, accepted-risk or fixed")
    triage.add_argument("--comment", default="", metavar="TEXT")
    triage.add_argument("--who", metavar="NAME", help="who says so (default: the login name)")
    triage.add_argument("--vendor", help="the product, where the key is in several")
    triage.add_argument("--product")
    triage.add_argument("--image", metavar="SHA256", help="the image, where it names no product")
    history = query("history", "every triage mark of a finding's key, oldest first")
    history.add_argument("key", metavar="KEY", help="the finding's key (or its first 8 hex digits or more)")
    history.add_argument("--vendor")
    history.add_argument("--product")
    timeline = query("timeline", "a product's releases in order: findings per release, new, gone, open")
    timeline.add_argument("--vendor", required=True)
    timeline.add_argument("--product", required=True)


def _add_accounts(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`user` and `token`: who may use `firmproof serve` (its --auth file)."""
    for kind, text in (("user", "people who log in to `firmproof serve`'s pages"),
                       ("token", "bearer tokens for `firmproof serve`'s API")):
        parser = verbs.add_parser(kind, help=text)
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        add = actions.add_parser("add", help=f"add a {kind} (or change one)")
        add.add_argument("name", metavar="NAME")
        add.add_argument("--role", choices=["read", "admin"], default="read",
                         help="read (default) or admin (may write: triage)")
        if kind == "user":
            add.add_argument("--password-stdin", action="store_true",
                             help="read the password from standard input instead of asking")
        actions.add_parser("remove", help=f"remove a {kind}").add_argument("name", metavar="NAME")
        actions.add_parser("list", help="every user and token, by name and role")
        for action in actions.choices.values():
            action.add_argument("--auth", type=Path, metavar="FILE",
                                help="the authentication file (default: the user config folder's "
                                     "firmproof/users.json)")


def _accounts(args: argparse.Namespace) -> int:
    import getpass

    from firmproof.web import accounts

    token = args.verb == "token"
    try:
        if args.action == "list":
            print("\n".join(accounts.listing(args.auth)))
        elif args.action == "remove":
            print(accounts.remove(args.auth, args.name, token=token), file=sys.stderr)
        elif token:
            secret, said = accounts.add_token(args.auth, args.name, args.role)
            print(secret)
            print(said, file=sys.stderr)
        else:
            password = sys.stdin.readline().rstrip("\n") if args.password_stdin else \
                getpass.getpass(f"password for {args.name}: ")
            print(accounts.add_user(args.auth, args.name, args.role, password), file=sys.stderr)
    except accounts.AuthError as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    return EXIT_OK


def _add_limits(parser: argparse.ArgumentParser) -> None:
    """The unpacking limits, the same for every verb that unpacks an image: a report is
    re-derived (verify) or compared (diff) under the limits its scan ran with."""
    limits = Limits()
    parser.add_argument("--max-depth", type=int, help=f"nested containers (default {limits.max_depth})")
    parser.add_argument("--max-bytes", type=_size,
                        help=f"bytes extracted in all, e.g. 2G (default {limits.max_bytes // GiB}G)")
    parser.add_argument("--max-ratio", type=int,
                        help=f"bytes extracted per byte of image (default {limits.max_ratio})")
    parser.add_argument("--max-files", type=int, help=f"entries extracted (default {limits.max_files})")
    parser.add_argument("--max-containers", type=int,
                        help="containers unpacked (default 1000, or one per 8 KiB of image where "
                             "that is more)")
    parser.add_argument("--timeout", type=float,
                        help=f"seconds for unpacking (default {limits.max_seconds:.0f})")
    parser.add_argument("--max-memory", type=_size,
                        help=f"address space of each extraction process, e.g. 4G (default "
                             f"{limits.max_memory // GiB}G)")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help=f"settings file (TOML; default ${CONFIG_ENV}, else the user's "
                             "firmproof/config.toml); flags override it")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(config_path(args.config))


def _limits(args: argparse.Namespace) -> Limits:
    """The configuration file's limits, with the command line's flags over them."""
    return override(_settings(args).limits, max_depth=args.max_depth, max_bytes=args.max_bytes,
                    max_ratio=args.max_ratio, max_files=args.max_files, max_seconds=args.timeout,
                    max_memory=args.max_memory, max_containers=args.max_containers)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handle_stop_signals()
    use_tool_path()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        _silence_unblob()
    try:
        if args.verb == "scan":
            return _scan(args)
        if args.verb == "vulndb":
            return _vulndb(args)
        if args.verb == "batch":
            return _batch(args)
        if args.verb == "db":
            return _db(args)
        if args.verb == "serve":
            from firmproof.web.serve import serve

            return serve(args.db, args.host, args.port, args.auth, args.data_dir, args.upload_limit,
                         _limits(args), _settings(args).min_examined,
                         timedelta(days=args.keep_jobs) if args.keep_jobs is not None else None)
        if args.verb in ("user", "token"):
            return _accounts(args)
        if args.verb == "rules":
            return _rules(args)
        if args.verb == "verify":
            return _verify(args)
        if args.verb == "diff":
            return _diff(args)
        if args.verb == "doctor":
            from firmproof.host import doctor

            return doctor.main(brief=args.brief, as_json=args.json)
    except ConfigError as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except (KeyboardInterrupt, Stopped) as exc:
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        print(f"firmproof: {what}; children stopped, temporary files removed", file=sys.stderr)
        return 128 + signum
    return EXIT_OK


def _silence_unblob() -> None:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def _workdir_made(args: argparse.Namespace) -> bool:
    """--workdir exists (made when missing), or the reason it cannot be is said."""
    if args.workdir is not None:
        try:
            args.workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"firmproof: --workdir {args.workdir}: {exc.strerror or exc}", file=sys.stderr)
            return False
    return True


def _scan(args: argparse.Namespace) -> int:
    from firmproof.report.render import render
    from firmproof.report.terminal import ScanDisplay
    from firmproof.scan import ImageError, scan
    from firmproof.unpack.driver import UnpackFailed

    if not _workdir_made(args):
        return EXIT_UNREADABLE
    sign_key = None
    if args.sign is not None:
        from firmproof.evidence.sign import SignError, load_private

        if args.format != "json" or args.output is None:
            print("firmproof: --sign needs --format json and -o REPORT", file=sys.stderr)
            return EXIT_UNREADABLE
        try:
            sign_key = load_private(args.sign)
        except SignError as exc:
            print(f"firmproof: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    from firmproof.report import vex

    failures: tuple[type[Exception], ...] = (ImageError, UnpackFailed)
    if args.format == "sbom" and args.sbom_format == "spdx":
        from firmproof.report.spdx import SpdxInvalid

        failures += (SpdxInvalid,)
    try:
        statements = [s for path in args.vex for s in vex.load(path)]
    except vex.VexError as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    config = ScanConfig(
        image=args.image, workdir=args.workdir, keep_workdir=args.keep,
        limits=_limits(args),
        vendor=args.vendor, product=args.product, version=args.image_version, fail_on=args.fail_on,
        min_examined=args.min_examined if args.min_examined is not None else _settings(args).min_examined)
    from firmproof.device.components import vulndb

    vulndb.configure(args.vulndb)
    display = ScanDisplay(enabled=not args.quiet)
    try:
        with display:
            result = scan(config, progress=display.progress)
        result.findings, vex_marked = vex.apply(result.findings, statements, result.image.sha256)
        text = render(result, args.format, args.sbom_format)
    except failures as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    if sign_key is not None:
        from firmproof.evidence.sign import envelope_path, sign

        try:
            envelope = sign(json.loads(text), sign_key)
            envelope_path(args.output).write_text(json.dumps(envelope, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"firmproof: cannot write the signature: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"firmproof: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    else:
        sys.stdout.write(text)
    if not vulndb.available():     # said once, after a scan that did run
        print("firmproof: no vulnerability database imported (firmproof vulndb import FILE…): "
              "vulnerability matching is off", file=sys.stderr)
    if not args.quiet:
        display.summary(result, args.output, vex_marked=vex_marked if args.vex else None)
    elif not result.complete and result.coverage is not None:
        from firmproof.report.coverage import headline

        print(f"firmproof: {headline(result.coverage)}", file=sys.stderr)
    if args.fail_on and any(f.severity.rank >= args.fail_on.rank for f in result.findings):
        return EXIT_FINDINGS
    return EXIT_OK if result.complete else EXIT_INCOMPLETE


def _batch(args: argparse.Namespace) -> int:
    """Exit 0: every image has a report in the store; 1: some failed, now or in an earlier run
    (their rows say why); 2: nothing could be read (the input, the store, the scheduler)."""
    from firmproof.batch import BatchError, BatchOptions, collect, run_batch
    from firmproof.device.components import vulndb
    from firmproof.report.terminal import BatchDisplay
    from firmproof.store import StoreError, open_store

    if args.jobs < 1:
        print("firmproof: --jobs: at least 1", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.image_timeout is not None and args.image_timeout <= 0:
        print("firmproof: --image-timeout: a number of seconds above 0", file=sys.stderr)
        return EXIT_UNREADABLE
    if not _workdir_made(args):
        return EXIT_UNREADABLE
    if args.vulndb is not None and args.scheduler is None and not vulndb.available(args.vulndb):
        print(f"firmproof: --vulndb {args.vulndb}: no vulnerability database there "
              "(firmproof vulndb import FILE… --db PATH makes one)", file=sys.stderr)
        return EXIT_UNREADABLE
    vulndb.configure(args.vulndb)
    options = BatchOptions(limits=_limits(args), jobs=args.jobs, scheduler=args.scheduler,
                           min_examined=args.min_examined if args.min_examined is not None
                           else _settings(args).min_examined,
                           image_timeout=args.image_timeout, retry_errors=args.retry_errors,
                           workdir=args.workdir,
                           vulndb=args.vulndb.resolve() if args.vulndb is not None else None)
    try:
        items = collect(args.input)
        store = open_store(args.db)
    except (BatchError, StoreError) as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    display = BatchDisplay(enabled=not args.quiet)
    try:
        with display:
            result = run_batch(items, store, options, display, verbose=args.verbose)
    except (BatchError, StoreError) as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    finally:
        store.close()
    display.summary(result, store.url)
    if result.unreadable == result.total:
        return EXIT_UNREADABLE          # not one of the paths was a file
    return EXIT_OK if result.ok else EXIT_FINDINGS


DB_COLUMNS = {
    "images": ["name", "vendor", "product", "version", "release_date", "size", "scans", "last_status",
               "last_findings", "sha256"],
    "scans": ["scan", "name", "vendor", "product", "version", "tool_version", "rules_version", "status",
              "findings", "complete", "started", "seconds", "error", "sha256"],
    "findings": ["image", "vendor", "product", "version", "release_date", "rule", "severity", "category",
                 "path", "offset", "excerpt", "triage", "key", "scan", "finding", "image_sha256"],
    "triage": ["at", "state", "who", "comment", "scope", "key"],
    "component": ["image", "vendor", "product", "version", "release_date", "component",
                  "component_version", "path", "source", "purl", "image_sha256"],
}
DB_COLUMNS["key"] = ["image", "vendor", "product", "version", "release_date", "kind", "type", "path",
                     "inside", "comment", "rule", "fingerprint", "image_sha256"]
DB_COLUMNS["executable"] = ["image", "vendor", "product", "version", "release_date", "path", "inside",
                            "packer", "size", "sha256", "image_sha256"]


def _db(args: argparse.Namespace) -> int:
    from firmproof.report.terminal import RowsDisplay
    from firmproof.store import StoreError, open_store, query
    from firmproof.store.export import to_csv, to_json
    from firmproof.store.timeline import COLUMNS as TIMELINE_COLUMNS
    from firmproof.store.triage import TriageError

    try:
        store = open_store(args.db)
    except StoreError as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    from sqlalchemy.exc import SQLAlchemyError

    try:
        if args.db_verb in ("images", "scans", "findings"):
            severity = getattr(args, "severity", None)
            filters = query.Filters(vendor=args.vendor, product=args.product,
                                    rule=getattr(args, "rule", None),
                                    severity=severity.value if severity is not None else None,
                                    triage=getattr(args, "triage", None))
            rows = getattr(query, args.db_verb)(store, filters)
        elif args.db_verb in ("triage", "history", "timeline"):
            rows = _db_triage(store, args)
        elif args.db_verb == "key":
            rows = query.key(store, args.fingerprint)
        elif args.db_verb == "executable":
            rows = query.executable(store, args.sha256)
        else:
            rows = query.component(store, args.name, args.version)
    except TriageError as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except SQLAlchemyError as exc:
        why = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"firmproof: {store.url}: cannot read the store: {why}", file=sys.stderr)
        return EXIT_UNREADABLE
    finally:
        store.close()
    columns = TIMELINE_COLUMNS if args.db_verb == "timeline" else DB_COLUMNS.get(args.db_verb,
                                                                                  DB_COLUMNS["triage"])
    if not args.json:           # a list (the timeline's known-backdoor rules) as one cell
        rows = [{k: " ".join(v) if isinstance(v, list) else v for k, v in row.items()} for row in rows]
    if args.json:
        sys.stdout.write(to_json(rows))
    elif args.csv:
        sys.stdout.write(to_csv(rows, columns))
    else:
        RowsDisplay().show(rows, columns)
    return EXIT_OK


def _db_triage(store: Store, args: argparse.Namespace) -> list[dict[str, Any]]:
    """`db triage` (the mark set, as one row), `db history` (the marks), `db timeline` (releases)."""
    from firmproof.store import timeline, triage

    if args.db_verb == "timeline":
        return timeline.timeline(store, args.vendor, args.product)
    if args.db_verb == "history":
        key = triage.resolve_key(store, args.key)
        return [m.to_row() for m in triage.marks(store, key, vendor=args.vendor, product=args.product)]
    scan, colon, finding = args.finding.partition(":")
    if colon:
        if not scan.strip().isdigit() or args.vendor or args.product or args.image:
            raise triage.TriageError(f"{args.finding}: SCAN:FINDING is a scan number and a finding id "
                                     "(then --vendor, --product and --image say nothing)")
        done = triage.mark_finding(store, int(scan), finding, args.state, comment=args.comment, who=args.who)
    else:
        done = triage.mark(store, args.finding, args.state, comment=args.comment, who=args.who,
                           vendor=args.vendor, product=args.product, image_sha256=args.image)
    return [done.to_row()]


def _vulndb(args: argparse.Namespace) -> int:
    from firmproof.device.components import vulndb

    vulndb.configure(args.db)
    path = vulndb.default_path()
    try:
        if args.vulndb_verb == "import":
            records, rows = vulndb.import_files(args.files, path)
            print(f"imported {records} records ({rows} affected ranges) into {path}", file=sys.stderr)
            return EXIT_OK
        if not vulndb.available(path):
            print(f"{path}: no vulnerability database imported yet", file=sys.stderr)
            return EXIT_UNREADABLE
        counts = vulndb.stats(path)
        print(f"{path}: " + ", ".join(f"{n} {source} records" for source, n in sorted(counts.items())))
        return EXIT_OK
    except vulndb.VulnDBError as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE


def _rules(args: argparse.Namespace) -> int:
    from firmproof.analyzers.registry import all_rules

    rules = all_rules()
    if args.json:
        print(json.dumps([r.to_json() for r in rules], indent=2))
        return EXIT_OK
    if args.markdown:
        from firmproof.report.rules_doc import rules_markdown

        sys.stdout.write(rules_markdown(rules))
        return EXIT_OK
    from firmproof.report.terminal import print_rules

    print_rules(rules)
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from firmproof.evidence.sign import SignError, check, envelope_path, load_public
    from firmproof.evidence.verify import verify
    from firmproof.report import Report
    from firmproof.report.file import ReportFileError, read_json
    from firmproof.report.terminal import print_verification
    from firmproof.scan import ImageError
    from firmproof.unpack.driver import UnpackFailed

    try:
        # read once: the findings checked and the JSON the signature covers are the same bytes
        data = read_json(args.report)
        report = Report.from_json(data, str(args.report))
        key = load_public(args.key) if args.key else None
        result = verify(report, args.image, limits=_limits(args), workdir=args.workdir)
    except (ReportFileError, ImageError, UnpackFailed, SignError) as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    if key is not None:
        try:
            # the envelope signs the report's JSON as written, unknown keys and all
            envelope = args.signature or envelope_path(args.report)
            result.signature = check(data, envelope, key)
        except SignError as exc:
            result.signature, result.signature_ok = str(exc), False
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    print_verification(result)
    return EXIT_OK if result.holds else EXIT_FINDINGS


def _diff(args: argparse.Namespace) -> int:
    from firmproof.evidence.diff import DiffError, diff_inputs
    from firmproof.report.terminal import print_diff

    try:
        result = diff_inputs(args.old, args.new, limits=_limits(args))
    except DiffError as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    if args.html:
        from firmproof.report.html import diff_html

        try:
            args.html.write_text(diff_html(result), encoding="utf-8")
        except OSError as exc:
            print(f"firmproof: cannot write {args.html}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    print_diff(result, stderr=args.json)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
