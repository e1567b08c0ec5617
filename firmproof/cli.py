"""The command line: parse, build a config, call one function, choose the exit code."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from firmproof import __version__
from firmproof.config import Limits, ScanConfig
from firmproof.model import Severity

EXIT_OK, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2


def _size(text: str) -> int:
    units = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
    text = text.strip().lower().rstrip("ib").rstrip("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firmproof", description=(
        "Find the covert ways into a device from its firmware image, with evidence anyone can re-check."))
    parser.add_argument("--version", action="version", version=f"firmproof {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    scan = verbs.add_parser("scan", help="unpack an image and report its findings")
    scan.add_argument("image", type=Path, metavar="IMAGE")
    scan.add_argument("-o", "--output", type=Path, metavar="REPORT", help="write the report here")
    scan.add_argument("--format", choices=["json"], default="json", help="report format (default json)")
    scan.add_argument("--vendor")
    scan.add_argument("--product")
    scan.add_argument("--version", dest="image_version", metavar="VERSION")
    scan.add_argument("--fail-on", type=Severity.parse, metavar="SEVERITY",
                      help="exit 1 when a finding is at or above this severity")
    scan.add_argument("--workdir", type=Path, help="where to unpack (default: a temporary folder)")
    scan.add_argument("--keep", action="store_true", help="keep the unpacked files in --workdir")
    limits = Limits()
    scan.add_argument("--max-depth", type=int, default=limits.max_depth, help="nested containers")
    scan.add_argument("--max-bytes", type=_size, default=limits.max_bytes,
                      help="bytes extracted in all (e.g. 2G)")
    scan.add_argument("--max-ratio", type=int, default=limits.max_ratio,
                      help="bytes extracted per byte of image")
    scan.add_argument("--max-files", type=int, default=limits.max_files, help="entries extracted")
    scan.add_argument("--timeout", type=float, default=limits.max_seconds, help="seconds for unpacking")
    scan.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")

    rules = verbs.add_parser("rules", help="list every rule")
    rules.add_argument("--json", action="store_true", help="as JSON")
    rules.add_argument("--markdown", action="store_true", help="as the Markdown of docs/rules.md")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        _silence_unblob()
    try:
        if args.verb == "scan":
            return _scan(args)
        if args.verb == "rules":
            return _rules(args)
    except KeyboardInterrupt:
        print("firmproof: interrupted", file=sys.stderr)
        return 130
    return EXIT_OK


def _silence_unblob() -> None:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def _scan(args: argparse.Namespace) -> int:
    from firmproof.report.terminal import ScanDisplay
    from firmproof.scan import ImageError, scan
    from firmproof.unpack.driver import UnpackFailed

    if args.workdir is not None:
        try:
            args.workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"firmproof: --workdir {args.workdir}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    config = ScanConfig(
        image=args.image, workdir=args.workdir, keep_workdir=args.keep,
        limits=Limits(max_depth=args.max_depth, max_bytes=args.max_bytes, max_ratio=args.max_ratio,
                      max_files=args.max_files, max_seconds=args.timeout),
        vendor=args.vendor, product=args.product, version=args.image_version, fail_on=args.fail_on)
    display = ScanDisplay(enabled=not args.quiet)
    try:
        with display:
            result = scan(config, progress=display.progress)
    except (ImageError, UnpackFailed) as exc:
        print(f"firmproof: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    report = result.to_json()
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"firmproof: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    else:
        sys.stdout.write(text)
    if not args.quiet:
        display.summary(result, args.output)
    if args.fail_on and any(f.severity.rank >= args.fail_on.rank for f in result.findings):
        return EXIT_FINDINGS
    return EXIT_OK


def _rules(args: argparse.Namespace) -> int:
    from firmproof.rules import all_rules

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


if __name__ == "__main__":
    sys.exit(main())
