"""`--format sbom --sbom-format spdx`: SPDX 2.3 JSON, written and validated by spdx-tools.

The document describes one package, the image (its sha256). Every component seen in it is one
package per place it was seen, with its version, purl (PACKAGE-MANAGER) and CPE 2.3 (SECURITY)
as external references, the sha256 of its file where the component is a file (a program, a
library, an app), a `CONTAINS` relationship from the image and `DEPENDS_ON` relationships to the
libraries its file loads (DT_NEEDED matched to the SONAMEs of the same tree). An annotation on each
package says where the version was read (container chain, path, file sha256, offset, length), so
that the SBOM can be re-checked against the image like a report.

The document is validated with spdx-tools' own validator before it is written: an invalid one is
an `SpdxInvalid` error, never a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter
from spdx_tools.spdx.model import (
    Actor,
    ActorType,
    Annotation,
    AnnotationType,
    Checksum,
    ChecksumAlgorithm,
    CreationInfo,
    Document,
    ExternalPackageRef,
    ExternalPackageRefCategory,
    Package,
    PackagePurpose,
    Relationship,
    RelationshipType,
    SpdxNoAssertion,
)
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.validation.external_package_ref_validator import CPE23TYPE_REGEX

from firmproof import __version__
from firmproof.device.components import Component
from firmproof.device.components.packages import disagreements

if TYPE_CHECKING:
    from firmproof.report import Report

SPDX_VERSION = "SPDX-2.3"
NAMESPACE = uuid.UUID("0d2f8a43-5a7e-4f0b-9c1e-6669726d7370")     # firmproof's own, for SPDX
IMAGE_ID = "SPDXRef-image"
FILE_SOURCES = frozenset({"binary", "apk"})     # the component is the file its version was read from
OPERATING_SYSTEMS = frozenset({"linux_kernel", "android"})
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


class SpdxInvalid(ValueError):
    """spdx-tools' validator rejects the document: a bug of this writer, said in one message."""


def _spdx_id(component: Component) -> str:
    key = "\0".join([component.name, component.version, *component.container, component.path])
    name = _UNSAFE.sub("-", component.name).strip("-") or "component"
    return f"SPDXRef-{name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _purpose(component: Component) -> PackagePurpose:
    if component.name in OPERATING_SYSTEMS or component.source == "os-release":
        return PackagePurpose.OPERATING_SYSTEM
    if component.name.startswith("lib") or any(".so" in p for p in component.provides):
        return PackagePurpose.LIBRARY
    return PackagePurpose.APPLICATION


def _created() -> datetime:
    """`SOURCE_DATE_EPOCH` where a reproducible build sets it, else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)
    return when.replace(microsecond=0)


def _cpe(component: Component) -> str | None:
    """The component's CPE as a CPE 2.3 formatted string that SPDX accepts: every character but
    letters, digits, `.`, `_` and `-` quoted in the version (`1.2\\~rc1`); None where the version
    holds one the binding cannot carry at all (a space, a non-ASCII letter)."""
    cpe = component.cpe
    if not cpe or re.match(CPE23TYPE_REGEX, cpe):
        return cpe
    version = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else f"\\{c}"
                      for c in component.upstream_version)
    head = ":".join(cpe.split(":", 5)[:5])          # cpe:2.3:part:vendor:product
    quoted = f"{head}:{version}:*:*:*:*:*:*:*"
    return quoted if re.match(CPE23TYPE_REGEX, quoted) else None


def _evidence(component: Component, disagrees: str | None) -> str:
    """Where the version was read, as JSON: what `verify` would need to find the bytes again."""
    ev = component.evidence
    note: dict[str, object] = {
        "firmproof:evidence": {
            "source": component.source, "container": list(component.container), "path": component.path,
            "sha256": ev.sha256, "offset": ev.offset, "length": ev.length, "excerpt": ev.excerpt}}
    if component.cpe and _cpe(component) != component.cpe:
        note["cpe"] = component.cpe     # as the vulnerability matching spells it
    if component.also:
        note["also"] = list(component.also)
    if component.version_from != "content":   # the version is in the file's name, not its bytes
        note["version_from"] = component.version_from
    if disagrees:   # package metadata and the binaries name different versions
        note["disagrees"] = disagrees
    return json.dumps(note, ensure_ascii=False, sort_keys=True)


def _package(component: Component) -> Package:
    refs = [ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", component.purl)]
    if cpe := _cpe(component):
        refs.append(ExternalPackageRef(ExternalPackageRefCategory.SECURITY, "cpe23Type", cpe))
    from_file = component.source in FILE_SOURCES
    return Package(
        spdx_id=_spdx_id(component), name=component.name, version=component.version,
        download_location=SpdxNoAssertion(), files_analyzed=False,
        file_name=component.path if from_file else None,
        checksums=[Checksum(ChecksumAlgorithm.SHA256, component.evidence.sha256)] if from_file else [],
        external_references=refs, primary_package_purpose=_purpose(component),
        source_info=f"identified by firmproof ({component.source}) in {component.path}")


def _dependencies(components: list[Component], ids: list[str]) -> list[Relationship]:
    """DEPENDS_ON from each component to the components of the same tree that provide a library
    its file loads."""
    providers: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for component, spdx_id in zip(components, ids, strict=True):
        for name in component.provides:
            providers.setdefault((component.container, name), []).append(spdx_id)
    found: dict[tuple[str, str], None] = {}
    for component, spdx_id in zip(components, ids, strict=True):
        for needed in component.needs:
            for target in providers.get((component.container, needed), []):
                if target != spdx_id:
                    found[(spdx_id, target)] = None
    return [Relationship(a, RelationshipType.DEPENDS_ON, b) for a, b in found]


def document(report: Report) -> Document:
    """The SPDX 2.3 document of one scan (not yet validated)."""
    created = _created()
    tool = Actor(ActorType.TOOL, f"firmproof-{__version__}")
    serial = uuid.uuid5(NAMESPACE, f"{report.image.sha256}:{__version__}")
    info = CreationInfo(
        spdx_version=SPDX_VERSION, spdx_id="SPDXRef-DOCUMENT", name=f"firmproof SBOM of {report.image.name}",
        document_namespace=f"https://spdx.org/spdxdocs/firmproof-{report.image.sha256[:16]}-{serial}",
        creators=[tool], created=created,
        document_comment="Components identified by firmproof in the image; each package's annotation "
                         "says where its version was read (container chain, path, file sha256, offset, "
                         "length).")
    image = Package(
        spdx_id=IMAGE_ID, name=report.image.product or report.image.name, version=report.image.version,
        file_name=report.image.name, download_location=SpdxNoAssertion(), files_analyzed=False,
        supplier=Actor(ActorType.ORGANIZATION, report.image.vendor) if report.image.vendor else None,
        checksums=[Checksum(ChecksumAlgorithm.SHA256, report.image.sha256)],
        primary_package_purpose=PackagePurpose.FIRMWARE,
        comment=f"firmware image {report.image.name}, {report.image.size} bytes")
    notes = disagreements(report.components)
    packages = [_package(c) for c in report.components]
    ids = [p.spdx_id for p in packages]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, IMAGE_ID)]
    relationships += [Relationship(IMAGE_ID, RelationshipType.CONTAINS, i) for i in ids]
    relationships += _dependencies(report.components, ids)
    annotations = [Annotation(i, AnnotationType.OTHER, tool, created, _evidence(c, notes.get(c.sort_key())))
                   for c, i in zip(report.components, ids, strict=True)]
    return Document(info, packages=[image, *packages], relationships=relationships, annotations=annotations)


def validate(doc: Document) -> None:
    """spdx-tools' validator over the whole document; `SpdxInvalid` with its messages if it fails."""
    messages = validate_full_spdx_document(doc)
    if messages:
        shown = "; ".join(m.validation_message for m in messages[:5])
        more = f" (and {len(messages) - 5} more)" if len(messages) > 5 else ""
        raise SpdxInvalid(f"the SPDX document does not validate: {shown}{more}")


def sbom(report: Report) -> str:
    """The SPDX 2.3 JSON document of one scan, validated."""
    doc = document(report)
    validate(doc)
    return json.dumps(DocumentConverter().convert(doc), indent=2, ensure_ascii=False) + "\n"
