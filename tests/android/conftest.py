"""Android fixtures built with the real tools: aapt compiles manifests against Debian's
framework-res.apk, smali assembles dex code, zipalign and apksigner finish the APK,
mkfs.ext4/img2simg/mkfs.erofs and mkbootimg build the images."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import corpus_file, need_file, need_tools, tool

FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")
ANDROID_NS = 'xmlns:android="http://schemas.android.com/apk/res/android"'


def manifest(package: str, *, permissions: tuple[str, ...] = (), shared_uid: str | None = None,
             application: str = "") -> str:
    uid = f' android:sharedUserId="{shared_uid}"' if shared_uid else ""
    perms = "".join(f'<uses-permission android:name="android.permission.{p}"/>\n'
                    for p in permissions)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<manifest {ANDROID_NS} package="{package}"{uid}>\n'
            f'{perms}<application android:label="app">{application}</application>\n</manifest>\n')


BOOT_RECEIVER = ('<receiver android:name=".BootReceiver"><intent-filter>'
                 '<action android:name="android.intent.action.BOOT_COMPLETED"/></intent-filter></receiver>'
                 '<service android:name=".CommandService" android:exported="true"/>')


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{cmd[0]}: {proc.stderr}"


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh vendor key (private key as PKCS#8 DER, certificate as PEM)."""
    need_tools("openssl")
    work = tmp_path_factory.mktemp("key")
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem",
          "-out", "cert.pem", "-days", "3650", "-subj", "/CN=Example Vendor"], work)
    _run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER",
          "-out", "key.pk8"], work)
    return work / "key.pk8", work / "cert.pem"


@pytest.fixture(scope="session")
def build_apk(tmp_path_factory: pytest.TempPathFactory,
              signing_key: tuple[Path, Path]) -> Callable[..., Path]:
    """build_apk(manifest_xml, assets={name: bytes}, smali={class: source}) -> a signed APK built
    by aapt/apksigner, its classes.dex assembled by smali."""
    need_tools("aapt", "zipalign", "apksigner")
    need_file(FRAMEWORK_RES)
    counter = iter(range(1_000_000))

    def build(manifest_xml: str, assets: dict[str, bytes] | None = None,
              smali: dict[str, str] | None = None) -> Path:
        work = tmp_path_factory.mktemp(f"apk{next(counter)}")
        (work / "AndroidManifest.xml").write_text(manifest_xml)
        cmd = ["aapt", "package", "-f", "-M", "AndroidManifest.xml", "-I", str(FRAMEWORK_RES),
               "-F", "unsigned.apk"]
        if assets:
            for name, data in assets.items():
                target = work / "assets" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            cmd += ["-A", "assets"]
        _run(cmd, work)
        if smali:
            assemble_dex(smali, work / "classes.dex")
            _run(["aapt", "add", "unsigned.apk", "classes.dex"], work)
        _run(["zipalign", "-f", "4", "unsigned.apk", "aligned.apk"], work)
        key, cert = signing_key
        _run(["apksigner", "sign", "--key", str(key), "--cert", str(cert), "--out", "app.apk",
              "aligned.apk"], work)
        return work / "app.apk"

    return build


SMALI_JAR = Path("/usr/share/java/smali.jar")


def assemble_dex(sources: dict[str, str], out: Path) -> Path:
    """classes.dex assembled from smali sources ({name: text}) by Debian's smali (libsmali-java)."""
    need_file(SMALI_JAR)
    need_tools("java")
    work = out.parent / f"{out.stem}-smali"
    work.mkdir(exist_ok=True)
    for name, text in sources.items():
        (work / f"{name}.smali").write_text(text)
    _run(["java", "-jar", str(SMALI_JAR), "assemble", "-o", str(out),
          *sorted(str(p) for p in work.glob("*.smali"))], out.parent)
    return out


def real_elf() -> bytes:
    """A real program to stand as a su binary (Debian's static busybox)."""
    return Path(tool("busybox")).read_bytes()


def corpus_ramdisk_tree(tmp_path: Path) -> Path:
    """The real BLU Vivo XL4 boot ramdisk (corpus #14) unpacked with gzip and cpio."""
    ramdisk = corpus_file("android_blu-vivo-xl4_v0350ww_8.1.0_ramdisk.img")
    tree = tmp_path / "ramdisk"
    tree.mkdir()
    cpio = subprocess.run(["gzip", "-dc", str(ramdisk)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-id", "--quiet", "--no-absolute-filenames"], input=cpio, cwd=tree,
                   check=True)
    return tree
