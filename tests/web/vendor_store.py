"""The store behind the vendor view's tests: two vendors' images built at test time with the real
tools (ssh-keygen, mksquashfs, mkfs.ext4), scanned for real with their inventory, one finding
marked false positive through the store's triage, as `firmproof db triage` marks it.

    Acme R1 1.0, 1.1   telnetd at boot; root's authorized_keys holds the shared key and the decoy
                       key; the Huawei 'telecomadmin' account (a known backdoor, FP-KNOWN-014)
    Acme R1 1.2        telnetd at boot; the backdoor and both keys are gone; the fleet key in
                       /etc/ssh/keys/root.authorized_keys (a file no rule reads: no finding)
    Acme R2 1.0        the fleet key at the same path, nothing else
    Globex G2 2.0      telnetd at boot; the shared key's private half as its SSH host key (ext4)

The telnetd finding is marked false-positive on Acme R1 1.0: the mark holds on 1.1 and 1.2 (the
same product), not on Globex G2. The decoy key is in two releases of one product only: shared
with nobody. The fleet key is shared by two products of one vendor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from firmproof.store import ImageInfo, add_report, open_store
from firmproof.store.triage import mark
from tests.store.test_inventory_rows import _fp, _keygen, _put
from tests.store.test_triage import HUAWEI, HUAWEI_CTREE, TELNETD

# name: (vendor, product, version, release date, file system, what it holds)
IMAGES = {
    "acme-r1-1.0": ("Acme", "R1", "1.0", date(2023, 1, 10), "squashfs-xz", ("telnetd", "keys", "backdoor")),
    "acme-r1-1.1": ("Acme", "R1", "1.1", date(2023, 6, 1), "squashfs-xz", ("telnetd", "keys", "backdoor")),
    "acme-r1-1.2": ("Acme", "R1", "1.2", date(2024, 2, 1), "squashfs-xz", ("telnetd", "fleet")),
    "acme-r2-1.0": ("Acme", "R2", "1.0", date(2024, 5, 1), "squashfs-xz", ("fleet",)),
    "globex-g2-2.0": ("Globex", "G2", "2.0", date(2023, 3, 5), "ext4", ("telnetd", "host-key")),
}
MARKED = "lab-only debug shell, removed from the shipped build"


@dataclass(frozen=True)
class VendorStore:
    url: str
    shared: str          # fingerprint of the key in Acme R1 (authorized) and Globex G2 (host key)
    decoy: str           # fingerprint of the key in Acme R1 only
    fleet: str           # fingerprint of the key in Acme R1 and Acme R2 only
    telnetd_key: str     # the triage key of the telnetd finding (marked false-positive on Acme R1)


@dataclass(frozen=True)
class Scanned:
    """The images' scans, to store in any number of stores (`fill`)."""

    reports: list[tuple[ImageInfo, Any, Any]]       # (what is known of the image, report, inventory)
    shared: str
    decoy: str
    fleet: str
    telnetd_key: str


def scan_images(folder: Path) -> Scanned:
    """Build the images of IMAGES in `folder` and scan them with their inventory."""
    from firmproof.batch import scan_with_inventory
    from firmproof.config import ScanConfig
    from firmproof.testing.demo import build_rootfs
    from firmproof.testing.fixtures import pack

    private, shared = _keygen(folder, "shared")
    _, decoy = _keygen(folder, "decoy")
    _, fleet = _keygen(folder, "fleet")
    reports = []
    telnetd_key = ""
    for name, (vendor, product, version, released, fmt, holds) in IMAGES.items():
        tree = build_rootfs(folder / name, plants=("telnetd-shell",) if "telnetd" in holds else (), decoys=())
        _put(tree, "/etc/version", f"{product} {version}\n")
        if "keys" in holds:
            _put(tree, "/root/.ssh/authorized_keys", shared + decoy, 0o600)
        if "backdoor" in holds:
            _put(tree, "/etc/wap/hw_default_ctree.xml", HUAWEI_CTREE)
        if "fleet" in holds:
            _put(tree, "/etc/ssh/keys/root.authorized_keys", fleet)
        if "host-key" in holds:
            _put(tree, "/etc/ssh/ssh_host_ed25519_key", private.read_bytes(), 0o600)
        image = pack(tree, fmt, folder / f"{name}.bin")
        report, inventory = scan_with_inventory(ScanConfig(image=image))
        rules = {f.rule.id for f in report.findings}
        assert (TELNETD in rules, HUAWEI in rules) == ("telnetd" in holds, "backdoor" in holds), name
        info = ImageInfo(vendor=vendor, product=product, version=version, release_date=released)
        reports.append((info, report, inventory))
        if name == "acme-r1-1.0":
            telnetd_key = _telnetd_key(report)
    return Scanned(reports, _fp(shared), _fp(decoy), _fp(fleet), telnetd_key)


def fill(url: str, scanned: Scanned) -> VendorStore:
    """A store at `url` holding the scans, the telnetd finding marked false-positive on Acme R1."""
    store = open_store(url)
    try:
        for info, report, inventory in scanned.reports:
            add_report(store, report, info, inventory=inventory, started=datetime(2024, 3, 1, 12, tzinfo=UTC))
        mark(store, scanned.telnetd_key, "false-positive", comment=MARKED, who="carol", vendor="Acme",
             product="R1")
    finally:
        store.close()
    return VendorStore(url, scanned.shared, scanned.decoy, scanned.fleet, scanned.telnetd_key)


def build(folder: Path) -> VendorStore:
    """The images built, scanned and stored in a SQLite store in `folder`."""
    return fill(f"sqlite:///{folder / 'vendors.sqlite'}", scan_images(folder))


def _telnetd_key(report: object) -> str:
    from firmproof.store import evidence_key

    data = report.to_json()       # type: ignore[attr-defined]
    [found] = [f for f in data["findings"] if f["rule"] == TELNETD]
    return evidence_key(TELNETD, found["path"], found["evidence"])
