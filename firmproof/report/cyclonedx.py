"""`--format sbom`: CycloneDX 1.6 JSON, written by cyclonedx-python-lib.

The image is the root component (metadata.component, with its sha256); every component seen
in it is one entry per place it was seen, with purl and CPE where known, the sha256 of the
file that holds the version string, and where that string is (evidence.occurrences and
`firmproof:*` properties), so that the SBOM can be re-checked against the image like a report;
the other files that carry the same version are further occurrences. Programs depend on the
components whose libraries they load (DT_NEEDED against SONAMEs).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component as CdxComponent
from cyclonedx.model.component import ComponentType
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from firmproof import __version__
from firmproof.device.components import Component
from firmproof.device.components.packages import disagreements

if TYPE_CHECKING:
    from firmproof.report import Report

SERIAL_NAMESPACE = uuid.UUID("5f1c0f6e-8b1a-4c55-9f0e-6669726d7072")   # firmproof's own
OPERATING_SYSTEMS = {"linux_kernel", "android"}


def _type(component: Component) -> ComponentType:
    if component.name in OPERATING_SYSTEMS or component.source == "os-release":
        return ComponentType.OPERATING_SYSTEM
    if component.name.startswith("lib") or component.name in ("openssl", "glibc", "uclibc", "musl",
                                                               "wolfssl", "mbedtls", "curl"):
        return ComponentType.LIBRARY
    return ComponentType.APPLICATION


def _bom_ref(component: Component) -> str:
    key = "\0".join([component.name, component.version, *component.container, component.path])
    return f"{component.name}@{component.version}#" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _entry(component: Component, disagrees: str | None = None) -> CdxComponent:
    ev = component.evidence
    where = "/".join(part.strip("/") for part in component.container[1:])
    location = f"{where}:{component.path}" if where else component.path
    properties = [
        Property(name="firmproof:source", value=component.source),
        Property(name="firmproof:path", value=component.path),
        Property(name="firmproof:container", value=" > ".join(component.container)),
        Property(name="firmproof:evidence:offset", value=str(ev.offset)),
        Property(name="firmproof:evidence:length", value=str(ev.length)),
        Property(name="firmproof:evidence:excerpt", value=ev.excerpt),
    ]
    if component.version_from != "content":   # the version is in the file's name, not its bytes
        properties.append(Property(name="firmproof:version-from", value=component.version_from))
    if disagrees:   # package metadata and the binaries name different versions
        properties.append(Property(name="firmproof:disagrees", value=disagrees))
    ref = _bom_ref(component)
    return CdxComponent(
        name=component.name, version=component.version, type=_type(component),
        bom_ref=ref, purl=PackageURL.from_string(component.purl), cpe=component.cpe,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=ev.sha256)],
        # the library keeps occurrences sorted by bom-ref first: named in order, the place of the
        # version string stays first and the document is the same on every run
        evidence=ComponentEvidence(occurrences=[
            Occurrence(bom_ref=f"{ref}:0", location=location, offset=ev.offset),
            *(Occurrence(bom_ref=f"{ref}:{n:05d}", location=f"{where}:{path}" if where else path)
              for n, path in enumerate(component.also, start=1))]),
        properties=properties)


def sbom(report: Report) -> str:
    """The CycloneDX 1.6 JSON document of one scan."""
    image = report.image
    bom = Bom(serial_number=uuid.uuid5(SERIAL_NAMESPACE, f"{image.sha256}:{__version__}"))
    root = CdxComponent(
        name=image.product or image.name, version=image.version, type=ComponentType.FIRMWARE,
        bom_ref=f"image:{image.sha256}", group=image.vendor,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=image.sha256)],
        properties=[Property(name="firmproof:image:name", value=image.name),
                    Property(name="firmproof:image:size", value=str(image.size))])
    bom.metadata.component = root
    bom.metadata.tools.components.add(CdxComponent(name="firmproof", version=__version__,
                                                   type=ComponentType.APPLICATION))
    notes = disagreements(report.components)
    entries = [_entry(c, notes.get(c.sort_key())) for c in report.components]
    for entry in entries:
        bom.components.add(entry)
    bom.register_dependency(root, entries)
    for index, targets in links(report.components).items():
        bom.register_dependency(entries[index], [entries[t] for t in targets])
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def links(components: list[Component]) -> dict[int, list[int]]:
    """The dependency graph: component i depends on component j when a file of i loads a
    library (DT_NEEDED) that a file of j provides, in the same view."""
    providers: dict[tuple[tuple[str, ...], str], list[int]] = {}
    for j, c in enumerate(components):
        for name in c.provides:
            providers.setdefault((c.container, name), []).append(j)
    graph: dict[int, list[int]] = {}
    for i, c in enumerate(components):
        targets = sorted({j for name in c.needs for j in providers.get((c.container, name), ()) if j != i})
        if targets:
            graph[i] = targets
    return graph
