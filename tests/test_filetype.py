from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from firmproof.fs.filetype import (
    ARCHIVE,
    CARVE_TYPES,
    CERTIFICATE,
    ELF,
    EMPTY,
    MEDIA,
    PACKED,
    PRIVATE_KEY,
    SCRIPT,
    TEXT,
    classify,
    elf_info,
)
from firmproof.testing.fixtures import FORMATS, PackError, pack


def test_real_files_are_classified(tmp_path: Path):
    elf = Path(sys.executable).resolve().read_bytes()[:4096]
    assert classify(elf) == ELF
    assert elf_info(elf)["elf_type"] in ("exec", "dyn")
    assert classify(b"#!/bin/sh\necho hi\n") == SCRIPT
    assert classify(b"root:x:0:0::/root:/bin/sh\n", "/etc/passwd") == TEXT
    assert classify(gzip.compress(b"x" * 100)) == ARCHIVE
    assert classify(b"") == EMPTY
    key = tmp_path / "k.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True)
    assert classify(key.read_bytes()) == PRIVATE_KEY
    cert = tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-key", key, "-subj", "/CN=x", "-out", cert], check=True)
    assert classify(cert.read_bytes()) == CERTIFICATE
    der = tmp_path / "k.der"
    subprocess.run(["openssl", "genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024",
                    "-outform", "DER", "-out", der], check=True)
    assert classify(der.read_bytes()[:4096]) == PRIVATE_KEY
    assert classify(b"\x89PNG\r\n\x1a\n....", "/www/logo.png") == MEDIA


def test_system_data_files_hold_nothing_to_carve():
    """Real files of the host's Debian: time zones, terminfo, the linker cache."""
    samples = [Path("/usr/share/zoneinfo/UTC"), Path("/etc/ld.so.cache"),
               *sorted(Path("/usr/share/terminfo/x").glob("xterm*"))[:1],
               *sorted(Path("/lib/terminfo/x").glob("xterm*"))[:1]]
    present = [p for p in samples if p.is_file()]
    assert present, "no zoneinfo, terminfo or ld.so.cache on this machine"
    for sample in present:
        assert classify(sample.read_bytes()[:4096], str(sample)) == MEDIA, sample


def test_plain_programs_are_not_searched_upx_packed_ones_are(tmp_path: Path):
    """Only a UPX-packed program is searched (its l_info after the program headers): every
    other ELF file stays ELF, which the unpacker never searches. The host's own programs and
    libraries (Debian's, of every shape: PIE, static, with and without sections) and a
    cross-compiled MIPS program are plain; the same programs packed with upx are not."""
    plain = sorted(p for folder in ("/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu")
                   for p in Path(folder).iterdir() if p.is_file() and not p.is_symlink())
    heads = [head for p in plain if (head := p.read_bytes()[:4096]).startswith(b"\x7fELF")]
    assert len(heads) > 300
    assert [classify(h) for h in heads].count(ELF) == len(heads)
    source = Path(__file__).parent / "binary" / "src" / "udp_trigger.c"
    for cc, flags in (("gcc", ()), ("gcc", ("-static",)), ("mips-linux-gnu-gcc", ("-static",))):
        out = tmp_path / f"prog-{cc}{''.join(flags)}"
        subprocess.run([cc, "-O2", *flags, "-o", out, source], check=True, capture_output=True)
        assert classify(out.read_bytes()[:4096]) == ELF
        subprocess.run(["upx", "-q", out], check=True, capture_output=True)
        assert classify(out.read_bytes()[:4096]) == PACKED, (cc, flags)
    assert PACKED in CARVE_TYPES and ELF not in CARVE_TYPES


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_container_the_tools_build_is_searched(tmp_path: Path, fmt: str):
    """filetype's quick magics decide what the unpacker searches (CARVE_TYPES): a container
    nested in another must never be taken for text, media or a program and left unsearched.
    Each format the real tools can build is checked, under a name that says text."""
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    try:
        image = pack(tree, fmt, tmp_path / "image")
    except PackError as exc:
        pytest.skip(f"{fmt}: {exc}")
    head = image.read_bytes()[:4096]
    assert classify(head, "/etc/motd.txt") in CARVE_TYPES, fmt
