"""`scan --vex FILE`: the vulnerabilities a supplier declares not affecting its product.

Two formats, told apart by their content:

- CycloneDX VEX (JSON): `vulnerabilities[]` with `id` (and `references[].id` as aliases),
  `analysis.state` and `analysis.justification`, `affects[].ref`. A ref names a component by
  bom-ref (firmproof's own `name@version#…`, a BOM-Link `urn:cdx:…#ref`, or one of the document's
  own `components[]`), by purl, or as `name@version`.
- OpenVEX (JSON): `statements[]` with `vulnerability.name` (and `vulnerability.aliases`),
  `status`, `justification` (else `impact_statement`), `products[]` by `@id` or
  `identifiers.purl`/`identifiers.cpe23` (and their `subcomponents`).

Statements with a not-affecting status (CycloneDX not_affected, false_positive, resolved,
resolved_with_pedigree; OpenVEX not_affected, fixed) mark the FP-VULN findings of the component
they name: the finding stays in the report, with `details.vex` saying which document declared what,
and its severity becomes info (so `--fail-on` passes over it) once every vulnerability the finding
names is declared not affecting. A finding only part of whose vulnerabilities are declared keeps
its severity and lists the others in `details.vex.not_covered`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from firmproof.config import MAX_VEX_BYTES
from firmproof.model import Category, Finding, Severity

CYCLONEDX_NOT_AFFECTING = frozenset({"not_affected", "false_positive", "resolved", "resolved_with_pedigree"})
OPENVEX_NOT_AFFECTING = frozenset({"not_affected", "fixed"})


class VexError(Exception):
    """A VEX document that cannot be read: one clear line, exit code 2."""


@dataclass(frozen=True)
class Product:
    """One way a statement names a component: a purl, a CPE 2.3, a bom-ref or name@version."""

    purl: str | None = None
    cpe: str | None = None
    ref: str | None = None          # a bom-ref, or name@version
    images: frozenset[str] = frozenset()    # only in the images of these sha256 (empty: any)


@dataclass(frozen=True)
class Statement:
    ids: frozenset[str]             # the vulnerability and its aliases, upper case
    status: str
    justification: str | None
    products: tuple[Product, ...]
    document: str
    not_affecting: bool


# -- reading -----------------------------------------------------------------


def load(path: Path) -> list[Statement]:
    """Every statement of one VEX document (CycloneDX or OpenVEX JSON)."""
    try:
        size = path.stat().st_size
        if size > MAX_VEX_BYTES:
            raise VexError(f"{path}: {size} bytes, more than a VEX document may have "
                           f"({MAX_VEX_BYTES // 1024 ** 2} MiB)")
        with path.open("rb") as handle:
            data = handle.read(MAX_VEX_BYTES + 1)
    except OSError as exc:
        raise VexError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise VexError(f"{path}: not JSON ({exc})") from None
    try:
        if isinstance(doc, dict) and isinstance(doc.get("statements"), list):
            return list(_openvex(doc, path.name))
        if isinstance(doc, dict) and (doc.get("bomFormat") == "CycloneDX"
                                      or isinstance(doc.get("vulnerabilities"), list)):
            return list(_cyclonedx(doc, path.name))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise VexError(f"{path}: malformed VEX document ({type(exc).__name__}: {exc})") from None
    raise VexError(f"{path}: neither a CycloneDX VEX document (vulnerabilities[]) nor OpenVEX (statements[])")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: a non-empty string expected, got {value!r}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where}: a list expected, got {type(value).__name__}")
    return value


def _sha256s(hashes: Any) -> frozenset[str]:
    """The SHA-256 values of CycloneDX (`[{alg, content}]`) or OpenVEX (`{"sha-256": …}`) hashes."""
    if isinstance(hashes, dict):
        return frozenset(str(v).lower() for k, v in hashes.items() if str(k).lower() in ("sha-256", "sha256"))
    if isinstance(hashes, list):
        return frozenset(str(h.get("content", "")).lower() for h in hashes
                         if isinstance(h, dict) and str(h.get("alg", "")).upper() == "SHA-256")
    return frozenset()


def _cyclonedx(doc: dict[str, Any], name: str) -> Iterable[Statement]:
    # a document about one image (metadata.component with its hash, as firmproof's SBOM names it)
    # says nothing about another
    metadata = doc.get("metadata") or {}
    root = metadata.get("component") if isinstance(metadata, dict) else None
    images = _sha256s(root.get("hashes")) if isinstance(root, dict) else frozenset()
    own: dict[str, tuple[Product, ...]] = {}       # the document's own components, by bom-ref
    for i, c in enumerate(_list(doc.get("components"), "components")):
        if isinstance(c, dict) and isinstance(c.get("bom-ref"), str):
            names = [Product(ref=c["bom-ref"])]
            if isinstance(c.get("purl"), str):
                names.append(Product(purl=c["purl"]))
            if isinstance(c.get("cpe"), str):
                names.append(Product(cpe=c["cpe"]))
            if isinstance(c.get("name"), str) and isinstance(c.get("version"), str):
                names.append(Product(ref=f"{c['name']}@{c['version']}"))
            own[c["bom-ref"]] = tuple(names)
        elif not isinstance(c, dict):
            raise ValueError(f"components[{i}]: an object expected")
    for i, v in enumerate(_list(doc.get("vulnerabilities"), "vulnerabilities")):
        where = f"vulnerabilities[{i}]"
        if not isinstance(v, dict):
            raise ValueError(f"{where}: an object expected")
        ids = {_text(v.get("id"), f"{where}.id")}
        ids |= {r["id"] for r in _list(v.get("references"), f"{where}.references")
                if isinstance(r, dict) and isinstance(r.get("id"), str)}
        analysis = v.get("analysis") or {}
        if not isinstance(analysis, dict):
            raise ValueError(f"{where}.analysis: an object expected")
        state = analysis.get("state")
        if state is None:
            continue            # no analysis: the document declares nothing about it
        state = _text(state, f"{where}.analysis.state")
        justification = analysis.get("justification") or analysis.get("detail")
        products: list[Product] = []
        for j, a in enumerate(_list(v.get("affects"), f"{where}.affects")):
            ref = _text(a.get("ref") if isinstance(a, dict) else None, f"{where}.affects[{j}].ref")
            if ref.startswith("urn:cdx:") and "#" in ref:       # BOM-Link to a component
                ref = unquote(ref.split("#", 1)[1])
            products.extend(dataclasses.replace(p, images=images) for p in own.get(ref, (_named(ref),)))
        yield Statement(frozenset(x.upper() for x in ids), state,
                        str(justification) if justification else None, tuple(products), name,
                        state in CYCLONEDX_NOT_AFFECTING)


def _named(ref: str) -> Product:
    if ref.startswith("pkg:"):
        return Product(purl=ref)
    if ref.startswith("cpe:2.3:"):
        return Product(cpe=ref)
    return Product(ref=ref)


def _openvex_products(items: list[Any], where: str,
                      images: frozenset[str] = frozenset()) -> Iterable[Product]:
    """A product's names; a product with subcomponents is the image that holds them, so its
    subcomponents are named only in an image of its sha-256 (if it gives one)."""
    for j, p in enumerate(items):
        if isinstance(p, str):          # OpenVEX 0.0.x allowed bare identifiers
            yield dataclasses.replace(_named(p), images=images)
            continue
        if not isinstance(p, dict):
            raise ValueError(f"{where}[{j}]: an object expected")
        if isinstance(p.get("@id"), str):
            yield dataclasses.replace(_named(p["@id"]), images=images)
        identifiers = p.get("identifiers") or {}
        if isinstance(identifiers, dict):
            if isinstance(identifiers.get("purl"), str):
                yield Product(purl=identifiers["purl"], images=images)
            if isinstance(identifiers.get("cpe23"), str):
                yield Product(cpe=identifiers["cpe23"], images=images)
        yield from _openvex_products(_list(p.get("subcomponents"), f"{where}[{j}].subcomponents"),
                                     f"{where}[{j}].subcomponents", _sha256s(p.get("hashes")) or images)


def _openvex(doc: dict[str, Any], name: str) -> Iterable[Statement]:
    for i, s in enumerate(doc["statements"]):
        where = f"statements[{i}]"
        if not isinstance(s, dict):
            raise ValueError(f"{where}: an object expected")
        vuln = s.get("vulnerability")
        if isinstance(vuln, str):       # OpenVEX 0.0.x: the id itself
            ids = {vuln}
        elif isinstance(vuln, dict):
            ids = {_text(vuln.get("name") or vuln.get("@id"), f"{where}.vulnerability.name")}
            ids |= {a for a in _list(vuln.get("aliases"), f"{where}.vulnerability.aliases")
                    if isinstance(a, str)}
        else:
            raise ValueError(f"{where}.vulnerability: missing")
        status = _text(s.get("status"), f"{where}.status")
        justification = s.get("justification") or s.get("impact_statement")
        listed = _list(s.get("products"), f"{where}.products")
        products = tuple(_openvex_products(listed, f"{where}.products"))
        yield Statement(frozenset(x.upper() for x in ids), status,
                        str(justification) if justification else None, products, name,
                        status in OPENVEX_NOT_AFFECTING)


# -- matching ----------------------------------------------------------------


def _purl_parts(text: str) -> tuple[str, str, str, str | None] | None:
    from packageurl import PackageURL

    try:
        p = PackageURL.from_string(text)
    except ValueError:
        return None
    return p.type.lower(), (p.namespace or "").lower(), p.name.lower(), p.version


def _cpe_parts(text: str) -> tuple[str, str, str] | None:
    parts = text.split(":")
    if len(parts) < 6 or parts[:2] != ["cpe", "2.3"]:
        return None
    return parts[3].lower(), parts[4].lower(), parts[5].replace("\\", "")   # '1.2\~rc1' is 1.2~rc1


def names(product: Product, details: dict[str, Any], image_sha256: str) -> bool:
    """Whether `product` names the component of a FP-VULN finding (its `details`) in this image."""
    if product.images and image_sha256.lower() not in product.images:
        return False
    name, version = str(details.get("component", "")), str(details.get("version", ""))
    if product.purl and details.get("purl"):
        want, have = _purl_parts(product.purl), _purl_parts(str(details["purl"]))
        return bool(want and have and want[:3] == have[:3] and want[3] in (None, "", have[3]))
    if product.cpe and details.get("cpe"):
        want_cpe, have_cpe = _cpe_parts(product.cpe), _cpe_parts(str(details["cpe"]))
        return bool(want_cpe and have_cpe and want_cpe[:2] == have_cpe[:2]
                    and want_cpe[2] in ("*", "-", have_cpe[2]))
    if product.ref:
        # firmproof's bom-ref is name@version#place; a bare name@version names every place
        return product.ref.split("#", 1)[0] == f"{name}@{version}"
    return False


def _declared(finding: Finding, statements: list[Statement], image_sha256: str) -> dict[str, Statement]:
    """{vulnerability id of the finding: the last statement about it that names its component}."""
    details = finding.details
    wanted = [str(c) for c in details.get("cves") or []] or [str(r) for r in details.get("records") or []]
    out: dict[str, Statement] = {}
    for vid in wanted:
        known = {vid.upper()}
        for s in statements:     # later documents and statements override earlier ones
            if s.ids & known and any(names(p, details, image_sha256) for p in s.products):
                out[vid] = s
    return out


def apply(findings: list[Finding], statements: list[Statement],
          image_sha256: str) -> tuple[list[Finding], int]:
    """The findings of the image `image_sha256` with the VEX statements applied (sorted again),
    and how many were marked not affecting (severity lowered to info)."""
    if not statements:
        return findings, 0
    out, marked = [], 0
    for finding in findings:
        if finding.category is not Category.VULNERABLE_COMPONENT:
            out.append(finding)
            continue
        declared = {vid: s for vid, s in _declared(finding, statements, image_sha256).items()
                    if s.not_affecting}
        if not declared:
            out.append(finding)
            continue
        wanted = [str(c) for c in finding.details.get("cves") or []] or \
            [str(r) for r in finding.details.get("records") or []]
        first = declared[sorted(declared)[0]]
        vex: dict[str, Any] = {
            "status": first.status, "justification": first.justification, "document": first.document,
            "vulnerabilities": {vid: {"status": s.status, "justification": s.justification,
                                      "document": s.document} for vid, s in sorted(declared.items())},
            "severity": finding.severity.value}
        missing = [vid for vid in wanted if vid not in declared]
        if missing:
            vex["not_covered"] = missing
            out.append(dataclasses.replace(finding, details={**finding.details, "vex": vex}))
            continue
        marked += 1
        out.append(dataclasses.replace(finding, severity=Severity.INFO,
                                       title=f"{finding.title} (not affecting, per VEX)",
                                       details={**finding.details, "vex": vex}))
    return sorted(out, key=Finding.sort_key), marked
