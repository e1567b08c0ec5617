"""verify: every finding of a real scan holds; each kind of tampering fails for its reason."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import firmproof, need_tools, scan_report

from firmproof.evidence.verify import verify
from firmproof.report import Report
from firmproof.report.file import ReportFileError
from firmproof.testing.demo import build_image


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    need_tools("mksquashfs", "mkimage", "openssl", "ssh-keygen")
    root = tmp_path_factory.mktemp("verify")
    image = build_image(root / "demo.bin")
    return image, scan_report(image, root)


@pytest.fixture(scope="module")
def tar_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """An uncompressed tar image: one byte of a file inside it can be changed honestly."""
    need_tools("openssl", "ssh-keygen")
    root = tmp_path_factory.mktemp("verify-tar")
    image = build_image(root / "demo.tar", fmt="tar", wrap_uimage=False)
    return image, scan_report(image, root)


def test_every_finding_of_the_demo_image_holds(demo: tuple[Path, dict], tmp_path: Path):
    image, report = demo
    assert len(report["findings"]) >= 7
    (tmp_path / "r.json").write_text(json.dumps(report))
    proc = firmproof("verify", tmp_path / "r.json", image, "--json")
    assert proc.returncode == 0, proc.stderr
    verdict = json.loads(proc.stdout)
    assert verdict["holds"] and verdict["held"] == verdict["total"] == len(report["findings"])
    assert f"{len(report['findings'])} of {len(report['findings'])} findings hold" in proc.stderr


def test_every_finding_of_the_tar_image_holds(tar_demo: tuple[Path, dict]):
    image, report = tar_demo
    result = verify(Report.from_json(report), image)
    assert result.holds, [c.reasons for c in result.checks if not c.holds]
    assert len(result.checks) == len(report["findings"]) >= 7


def test_report_of_another_image_does_not_hold(demo: tuple[Path, dict], tmp_path: Path):
    _, report = demo
    other = build_image(tmp_path / "clean.bin", plants=("telnetd-shell",))
    (tmp_path / "r.json").write_text(json.dumps(report))
    proc = firmproof("verify", tmp_path / "r.json", other, "--json")
    assert proc.returncode == 1, proc.stderr
    verdict = json.loads(proc.stdout)
    assert not verdict["image"]["holds"]
    assert "the report is for" in verdict["image"]["reasons"][0]
    # the shadow file differs (no weak root password in the other image): that finding fails too
    shadow = [f for f in verdict["findings"] if "/etc/shadow" in f["place"]]
    assert shadow and not any(f["holds"] for f in shadow)


def test_one_byte_changed_in_an_evidence_file_names_the_finding(tar_demo: tuple[Path, dict],
                                                                 tmp_path: Path):
    image, report = tar_demo
    blob = bytearray(image.read_bytes())
    line = b"ttyS0::respawn:/bin/sh"
    assert blob.count(line) == 1
    at = blob.index(line) + len("ttyS0::respawn:/bin/")
    blob[at:at + 1] = b"S"                       # /bin/sh -> /bin/Sh, same length, tar stays valid
    tampered = tmp_path / "tampered.tar"
    tampered.write_bytes(bytes(blob))
    result = verify(Report.from_json(report), tampered)
    assert not result.holds
    failing = [report["findings"][c.index] for c in result.checks if not c.holds]
    assert failing and {f["path"] for f in failing} == {"/etc/inittab"}
    reasons = " ".join(r for c in result.checks for r in c.reasons)
    assert "file sha256 is" in reasons and "not the excerpt" in reasons
    assert all(c.holds for c in result.checks if report["findings"][c.index]["path"] != "/etc/inittab")


@pytest.mark.parametrize(("change", "reason"), [
    ("offset", "id does not recompute"),
    ("excerpt", "not the excerpt"),
    ("id", "id does not recompute"),
    ("sha256", "evidence says"),
    ("path", "no file /etc/nowhere"),
    ("length", "outside the file"),
    ("container", "no container"),
])
def test_tampered_report_fails_for_the_right_reason(demo: tuple[Path, dict], change: str, reason: str):
    image, original = demo
    report = copy.deepcopy(original)
    finding = next(f for f in report["findings"] if f["path"] == "/etc/init.d/rcS")
    evidence = finding["evidence"]
    if change == "offset":
        evidence["offset"] += 1
    elif change == "excerpt":
        evidence["excerpt"] = evidence["excerpt"].replace("2323", "2324")
        assert evidence["excerpt"] != finding["evidence"].get("_", "")
    elif change == "id":
        finding["id"] = "0" * 24
    elif change == "sha256":
        evidence["sha256"] = "f" * 64
    elif change == "path":
        finding["path"] = "/etc/nowhere"
    elif change == "length":
        evidence["length"] = 10 ** 6
    elif change == "container":
        finding["container"] = [*finding["container"][:-1], "squashfs@0x99"]
    result = verify(Report.from_json(report), image)
    assert not result.holds
    bad = [c for c in result.checks if not c.holds]
    assert len(bad) == 1, [c.reasons for c in bad]
    assert report["findings"][bad[0].index] is finding
    assert any(reason in r for r in bad[0].reasons), bad[0].reasons
    if change == "offset":
        assert any("not the excerpt" in r for r in bad[0].reasons)


def test_excerpt_change_is_caught_even_with_a_recomputed_id(demo: tuple[Path, dict]):
    image, original = demo
    report = copy.deepcopy(original)
    finding = next(f for f in report["findings"] if "2323" in f["evidence"]["excerpt"])
    finding["evidence"]["excerpt"] = finding["evidence"]["excerpt"].replace("2323", "23")
    bad = [c for c in verify(Report.from_json(report), image).checks if not c.holds]
    assert [c.reasons for c in bad] and "id does not recompute" not in " ".join(bad[0].reasons)


def test_unreadable_inputs_exit_2(demo: tuple[Path, dict], tmp_path: Path):
    image, report = demo
    (tmp_path / "r.json").write_text(json.dumps(report))
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"schema": "something/1"}))
    for args in [(tmp_path / "bad.json", image), (tmp_path / "other.json", image),
                 (tmp_path / "missing.json", image), (tmp_path / "r.json", tmp_path / "missing.bin"),
                 (tmp_path / "r.json", tmp_path)]:
        proc = firmproof("verify", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.startswith("firmproof: ")


def test_a_malformed_finding_is_refused_before_any_check(demo: tuple[Path, dict]):
    """A report is checked field by field as it is read: a finding without evidence, or that is no
    object, is named and no finding is checked (the CLI exits 2 on it, test_report_input)."""
    _, original = demo
    report = copy.deepcopy(original)
    del report["findings"][0]["evidence"]
    with pytest.raises(ReportFileError, match=r"findings\[0\]\.evidence: missing"):
        Report.from_json(report)
    report = copy.deepcopy(original)
    report["findings"].append("nonsense")
    last = len(report["findings"]) - 1
    with pytest.raises(ReportFileError, match=rf"findings\[{last}\]: expected an object"):
        Report.from_json(report)


# -- signed reports ------------------------------------------------------------------------------------

def _keypair(tmp_path: Path, name: str) -> tuple[Path, Path]:
    need_tools("openssl")
    private, public = tmp_path / f"{name}.pem", tmp_path / f"{name}.pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", private], check=True)
    subprocess.run(["openssl", "pkey", "-in", private, "-pubout", "-out", public], check=True)
    return private, public


def test_signed_report_verifies_and_a_changed_report_does_not(demo: tuple[Path, dict], tmp_path: Path):
    image, _ = demo
    private, public = _keypair(tmp_path, "lab")
    _, stranger = _keypair(tmp_path, "stranger")
    report_path = tmp_path / "signed.json"
    proc = firmproof("scan", image, "-q", "-o", report_path, "--sign", private)
    assert proc.returncode == 0, proc.stderr
    envelope_path = tmp_path / "signed.json.dsse.json"
    envelope = json.loads(envelope_path.read_text())
    assert envelope["payloadType"] == "application/vnd.firmproof.report+json"
    assert envelope["signatures"][0]["keyid"].startswith("sha256:")

    proc = firmproof("verify", report_path, image, "--key", public, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["signature"]["holds"]

    proc = firmproof("verify", report_path, image, "--key", stranger, "--json")
    assert proc.returncode == 1 and "no signature by key" in json.loads(proc.stdout)["signature"]["detail"]

    # a change that leaves every finding intact (vendor name) still breaks the signature
    report = json.loads(report_path.read_text())
    report["image"]["vendor"] = "Someone Else"
    report_path.write_text(json.dumps(report, indent=2))
    proc = firmproof("verify", report_path, image, "--key", public, "--json")
    assert proc.returncode == 1, proc.stderr
    verdict = json.loads(proc.stdout)
    assert verdict["held"] == verdict["total"] and not verdict["signature"]["holds"]
    assert "report was changed" in verdict["signature"]["detail"]

    proc = firmproof("verify", report_path, image, "--key", tmp_path / "nokey.pem")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_a_hostile_signature_envelope_is_a_verdict_not_a_traceback(demo: tuple[Path, dict], tmp_path: Path):
    """An envelope nested 200,000 deep or with a 5,000-digit number: the signature does not
    hold, said in one line, exit 1."""
    image, _ = demo
    private, public = _keypair(tmp_path, "lab")
    report_path = tmp_path / "signed.json"
    assert firmproof("scan", image, "-q", "-o", report_path, "--sign", private).returncode == 0
    envelope = tmp_path / "signed.json.dsse.json"
    for hostile, said in (("[" * 200_000 + "]" * 200_000, "nested more than"),
                          ('{"payload": ' + "9" * 5000 + "}", "a number of 5,000 digits")):
        envelope.write_text(hostile)
        proc = firmproof("verify", report_path, image, "--key", public, "--json")
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        signature = json.loads(proc.stdout)["signature"]
        assert not signature["holds"] and said in signature["detail"], signature


def test_sign_needs_an_ed25519_private_key(demo: tuple[Path, dict], tmp_path: Path):
    image, _ = demo
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024",
                    "-out", tmp_path / "rsa.pem"], check=True)
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json", "--sign", tmp_path / "rsa.pem")
    assert proc.returncode == 2 and "not an ed25519 key" in proc.stderr, proc.stderr


@pytest.mark.parametrize("fmt", ["cramfs", "jffs2", "ubi", "cpio-newc-gz", "ext4", "zip"])
def test_findings_hold_in_other_formats(fmt: str, tmp_path: Path):
    need_tools("mksquashfs", "mkimage", "openssl", "ssh-keygen")
    image = build_image(tmp_path / f"{fmt}.bin", fmt=fmt, wrap_uimage=fmt == "cramfs")
    report = scan_report(image, tmp_path)
    result = verify(Report.from_json(report), image)
    assert len(result.checks) >= 7
    assert result.holds, [(c.place, c.reasons) for c in result.checks if not c.holds]


def test_findings_hold_three_containers_deep(tmp_path: Path):
    """zip → tar.gz → uImage → squashfs: the container chain leads back to each file."""
    need_tools("mksquashfs", "mkimage")
    from firmproof.testing.fixtures import pack

    inner = build_image(tmp_path / "inner" / "fw.bin", plants=("telnetd-shell", "weak-root-password"),
                        decoys=())
    staging = tmp_path / "staging"
    staging.mkdir()
    pack(inner.parent, "tar-gz", staging / "update.tar.gz")
    outer = pack(staging, "zip", tmp_path / "outer.zip")
    report = scan_report(outer, tmp_path)
    result = verify(Report.from_json(report), outer)
    assert result.holds and len(result.checks) >= 2
    assert max(len(f["container"]) for f in report["findings"]) >= 6


def test_verify_unpacks_under_the_limits_it_is_given(demo: tuple[Path, dict], tmp_path: Path):
    """A report is re-derived under the limits its scan ran with: a depth too low to reach the
    demo's SquashFS (inside its uImage) leaves the findings unplaced, the default holds, and
    the unpacking happens in --workdir."""
    image, report = demo
    (tmp_path / "r.json").write_text(json.dumps(report))
    shallow = firmproof("verify", tmp_path / "r.json", image, "--json", "--max-depth", "1")
    assert shallow.returncode == 1, shallow.stderr
    verdict = json.loads(shallow.stdout)
    assert not verdict["holds"] and verdict["held"] < verdict["total"]
    work = tmp_path / "work"
    work.mkdir()
    deep = firmproof("verify", tmp_path / "r.json", image, "--max-depth", "8", "--workdir", work)
    assert deep.returncode == 0, deep.stderr
    assert list(work.iterdir()) == []             # the unpacked tree was there, and is removed


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["tplink_tl-wr841n-v14-eu_MODIFIED_bindshell9999.bin",
                                  "xiongmai_gm8135s_ipc_custom_MODIFIED_telnetd.cramfs.img"])
def test_findings_of_real_firmware_hold(name: str, tmp_path: Path):
    from conftest import corpus_file

    image = corpus_file(name)
    report = scan_report(image, tmp_path)
    # through the CLI: in process, pytest's capture of unblob's debug log costs minutes on this image
    proc = firmproof("verify", tmp_path / "report.json", image, "--json")
    verdict = json.loads(proc.stdout)
    assert proc.returncode == 0, [f for f in verdict["findings"] if not f["holds"]]
    assert verdict["total"] == len(report["findings"]) >= 1


# -- large reports ---------------------------------------------------------------------------------

def test_excerpt_renders_each_byte_as_the_contract_says():
    """The one excerpt Evidence.of and verify share: printable ASCII and tab as themselves,
    every other byte as \\xNN, at most EXCERPT_MAX bytes then an ellipsis; excerpt_at reads
    the same from a place in a file."""
    import random

    from firmproof.model import EXCERPT_MAX, excerpt_at, excerpt_of

    def per_byte(data: bytes) -> str:
        text = "".join(chr(b) if b == 0x09 or 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in data[:EXCERPT_MAX])
        return text + ("…" if len(data) > EXCERPT_MAX else "")

    rng = random.Random(7)
    samples = [bytes([b]) for b in range(256)] + [b"", b"plain text\tline", bytes(range(256))]
    samples += [bytes(rng.randrange(256) for _ in range(n))
                for n in (1, 2, 50, EXCERPT_MAX - 1, EXCERPT_MAX, EXCERPT_MAX + 1, 1000)]
    samples += [b"a" * n for n in (EXCERPT_MAX - 1, EXCERPT_MAX, EXCERPT_MAX + 1, 5000)]
    samples += [b"a" * EXCERPT_MAX + b"\xff", b"\xff" + b"a" * EXCERPT_MAX]
    for data in samples:
        assert excerpt_of(data) == per_byte(data), data
        assert excerpt_at(b"xx" + data + b"yy", 2, len(data)) == per_byte(data), data
    assert excerpt_of(b"\x00A\n") == "\\x00A\\x0a"


def test_each_evidence_file_is_read_and_hashed_once(tar_demo: tuple[Path, dict],
                                                    monkeypatch: pytest.MonkeyPatch):
    """Findings of several files, interleaved, with a read cache too small for two files: each
    file is still read once (the findings of one file are checked together) and hashed once."""
    import hashlib

    from firmproof.fs import rootfs

    image, original = tar_demo
    report = copy.deepcopy(original)
    report["findings"] = [copy.deepcopy(f) for _ in range(20) for f in original["findings"]]
    files = {(tuple(f["container"]), f["path"]) for f in report["findings"]}
    assert len(files) >= 4
    loads: list[str] = []
    read = rootfs.RootFS.read

    def counting_read(self: rootfs.RootFS, path: str) -> bytes | None:
        entry = self.stat(path)
        if entry is not None and entry.path not in self._cache:
            loads.append(entry.path)
        return read(self, path)

    hashed: list[int] = []
    sha256 = hashlib.sha256

    def counting_sha256(data: bytes = b"", **kwargs: bool) -> Any:
        if len(data) > 1000:
            hashed.append(len(data))
        return sha256(data, **kwargs)

    monkeypatch.setattr(rootfs, "READ_CACHE_BYTES", 1)
    monkeypatch.setattr(rootfs.RootFS, "read", counting_read)
    monkeypatch.setattr(rootfs.hashlib, "sha256", counting_sha256)
    result = verify(Report.from_json(report), image)
    assert result.holds and [c.index for c in result.checks] == list(range(len(report["findings"])))
    assert len(loads) <= len(files), sorted(loads)
    assert len(hashed) <= len(files)
