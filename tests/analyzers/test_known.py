"""FP-KNOWN: the documented-backdoor pack beyond the rule table (tests/rules/cases_known.py,
which holds each rule's program or file and its decoy): the YARA side of the pack, the same
programs at -O0 and on the router architectures, and the real firmware of the corpus."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from firmproof.analyzers.known import RULES, YARA_FILE, KnownBackdoors, compiled, yara_metadata
from firmproof.device import crypt
from firmproof.fs.rootfs import RootFS
from tests.conftest import corpus_file, need_tools, scan_report, tool
from tests.rules.cases_known import HEAD, PROGRAMS, TREES


def _compile(tmp: Path, name: str, source: str, *flags: str) -> bytes:
    gcc = tool("gcc")
    src = tmp / f"{name}.c"
    src.write_text(HEAD + source)
    out = tmp / name
    proc = subprocess.run([gcc, *flags, "-rdynamic", "-w", "-o", str(out), str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("known")

    def _build(name: str, source: str, *flags: str) -> bytes:
        safe = re.sub(r"\W", "_", name) + "_" + "_".join(re.sub(r"\W", "", f) for f in flags)
        return _compile(tmp, safe, source, *flags)
    return _build


def _findings(fs: RootFS) -> list:  # type: ignore[type-arg]
    return list(KnownBackdoors().run(fs))


# -- the pack itself ---------------------------------------------------------------


def test_every_yara_rule_names_a_rule_and_every_rule_has_yara() -> None:
    meta = yara_metadata(YARA_FILE.read_text())
    named = {m["rule_id"] for m in meta.values()}
    assert named == {r.id for r in RULES}
    assert len(RULES) >= 15
    _, signatures = compiled()
    assert set(signatures) == set(meta)
    for r in RULES:
        assert r.category.value == "known-backdoor"
        assert any("cve" in ref.lower() or ref.startswith("https://") for ref in r.references)
        assert r.confirm


@pytest.mark.parametrize("flags", [("-O0",)], ids=["O0"])
@pytest.mark.parametrize("rule_id", sorted(PROGRAMS))
def test_compiled_backdoor_is_found(rule_id: str, flags: tuple[str, ...], build) -> None:  # type: ignore[no-untyped-def]
    source, literal = PROGRAMS[rule_id]
    binary = build(rule_id, source, *flags)
    fs = RootFS.from_files({"/usr/sbin/daemon": binary}, modes={"/usr/sbin/daemon": 0o755})
    found = [f for f in _findings(fs) if f.rule.id == rule_id]
    assert len(found) == 1, [f.rule.id for f in _findings(fs)]
    ev = found[0].evidence
    assert binary[ev.offset:ev.offset + ev.length] == literal
    assert found[0].path == "/usr/sbin/daemon"


CROSS = ("mipsel-linux-gnu-gcc", "mips-linux-gnu-gcc", "arm-linux-gnueabi-gcc", "aarch64-linux-gnu-gcc")


@pytest.mark.parametrize("compiler", CROSS)
def test_compiled_backdoors_are_found_on_router_architectures(compiler: str, tmp_path: Path) -> None:
    """MIPS LE/BE, ARM and AArch64 at -O2, stripped. An inlined 4-byte compare builds the
    Sercomm magic in a register (lui/addiu, movz/movk): the evidence is those instructions."""
    need_tools(compiler)
    for rule_id, (source, literal) in sorted(PROGRAMS.items()):
        (tmp_path / "p.c").write_text(HEAD + source)
        subprocess.run([compiler, "-O2", "-s", "-rdynamic", "-w", "-o", str(tmp_path / "p"),
                        str(tmp_path / "p.c")], check=True)
        binary = (tmp_path / "p").read_bytes()
        found = [f for f in _findings(RootFS.from_files({"/bin/p": binary})) if f.rule.id == rule_id]
        assert len(found) == 1, (compiler, rule_id)
        ev = found[0].evidence
        evidence = binary[ev.offset:ev.offset + ev.length]
        if literal in binary:
            assert evidence == literal, (compiler, rule_id)
        else:
            assert rule_id == "FP-KNOWN-003"
            assert found[0].details["pattern"] in {f"key{i}" for i in range(3, 9)}
            assert ev.length <= 128


def test_xiongmai_hash_is_the_documented_one() -> None:
    if not crypt.available():
        pytest.skip("libcrypt is not available")
    fs = RootFS.from_files(dict(TREES["FP-KNOWN-011"][0]))
    (found,) = _findings(fs)
    assert found.details["password"] == "xc3511"


# -- real firmware -----------------------------------------------------------------


def test_trendnet_alpha_networks_account(tmp_path: Path) -> None:
    image = corpus_file("trendnet_tew-733gr_v1.02b01_rootfs_squashfs-lzma.squashfs")
    report = scan_report(image, tmp_path)
    known = [f for f in report["findings"] if f["rule"] == "FP-KNOWN-012"]
    assert known, [f["rule"] for f in report["findings"]]
    assert any(f["path"] == "/etc/init0.d/S80telnetd.sh" for f in known)
    assert all("Alphanetworks:" in f["evidence"]["excerpt"] for f in known)


def test_librarybox_has_no_known_backdoor_or_exfiltration(tmp_path: Path) -> None:
    image = corpus_file("librarybox-2.1_openwrt_tl-mr3020-v1_squashfs-factory.bin")
    report = scan_report(image, tmp_path)
    bad = [f for f in report["findings"]
           if f["category"] in ("known-backdoor", "network.exfiltration", "web.hidden-endpoint")]
    assert bad == []


def test_tplink_httpd_carries_tddp(tmp_path: Path) -> None:
    image = corpus_file("tplink_tl-wr841n-v10_en_3.16.9_150310_up_boot.bin")
    report = scan_report(image, tmp_path)
    tddp = [f for f in report["findings"] if f["rule"] == "FP-KNOWN-018"]
    assert [f["path"] for f in tddp] == ["/usr/bin/httpd"]
    assert tddp[0]["evidence"]["excerpt"] == "tddpdInit"
