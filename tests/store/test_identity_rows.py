"""An image row takes what the image's own files say it is, marked guessed, where nobody said it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from conftest import need_tools

from firmproof.config import ScanConfig
from firmproof.scan import scan
from firmproof.store import ImageInfo, add_report, open_store
from firmproof.testing.demo import build_rootfs
from firmproof.testing.fixtures import pack, uimage
from tests.store.rows import dump

OPENWRT = "DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='23.05.3'\n"


def test_what_the_image_says_fills_only_what_nobody_gave(tmp_path: Path) -> None:
    need_tools("mksquashfs")
    tree = build_rootfs(tmp_path / "root", plants=(), decoys=())
    (tree / "etc" / "openwrt_release").write_text(OPENWRT)
    image = pack(tree, "squashfs-xz", tmp_path / "fw.sqfs")
    report = scan(ScanConfig(image=image, workdir=tmp_path, vendor="Acme Networks"))
    store = open_store(str(tmp_path / "store.sqlite"))
    try:
        add_report(store, report, ImageInfo(version="23.05.3-acme1"))
        row = dump(store)["images"][0]
        assert (row["vendor"], row["vendor_guessed"]) == ("Acme Networks", False)     # given to the scan
        assert (row["version"], row["version_guessed"]) == ("23.05.3-acme1", False)   # given to the store
        assert (row["product"], row["product_guessed"]) == ("OpenWrt", True)           # read from the image
    finally:
        store.close()


def test_a_product_the_uimage_header_names_lands_in_the_images_table_marked_guessed(tmp_path: Path) -> None:
    need_tools("mksquashfs", "mkimage")
    tree = tmp_path / "root"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "hostname").write_text("router\n")
    image = uimage(pack(tree, "squashfs-xz", tmp_path / "root.sqfs"), tmp_path / "fw.bin",
                   name="OpenWrt r23497 (Linux 5.15)")
    report = scan(ScanConfig(image=image, workdir=tmp_path, vendor="Acme Networks"))
    store = open_store(str(tmp_path / "store.sqlite"))
    try:
        add_report(store, report, ImageInfo())
        row = dump(store)["images"][0]
        assert (row["product"], row["product_guessed"]) == ("OpenWrt r23497 (Linux 5.15)", True)  # the header
        assert (row["vendor"], row["vendor_guessed"]) == ("Acme Networks", False)                 # given
        assert (row["version"], row["version_guessed"]) == (None, False)                          # unsaid
        assert (row["release_date"], row["release_date_guessed"]) == (date(2023, 11, 14), True)   # ih_time
    finally:
        store.close()
    store = open_store(str(tmp_path / "given.sqlite"))
    try:                                                   # a date given to the store wins over ih_time
        add_report(store, report, ImageInfo(release_date=date(2024, 2, 29)))
        row = dump(store)["images"][0]
        assert (row["release_date"], row["release_date_guessed"]) == (date(2024, 2, 29), False)
    finally:
        store.close()
