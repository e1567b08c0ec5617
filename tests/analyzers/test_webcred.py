"""FP-WEBCRED: web interface accounts, their files written by the real tools.

htpasswd lines come from Apache's `htpasswd` (apr1, bcrypt, {SHA}, DES, SHA-512), htdigest
lines from `htdigest` driven through a pseudo-terminal (it reads the password from the
terminal), BusyBox's MD5 strings from `busybox httpd -m`; the configurations that name the
files are lighttpd's, nginx's and Apache's own directives.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
from pathlib import Path

import pytest
from conftest import firmproof, need_tools, scan_report

from firmproof.analyzers.webcred import WebCredentials
from firmproof.fs.rootfs import RootFS
from firmproof.model import Finding, Severity
from firmproof.testing import fixtures

STRONG = "q7-Vend0r-Unique!x"


def htpasswd(option: str, user: str, password: str) -> str:
    need_tools("htpasswd")
    out = subprocess.run(["htpasswd", f"-nb{option}", user, password], capture_output=True, text=True,
                         check=True).stdout
    return out.strip() + "\n"


def htdigest(tmp_path: Path, realm: str, user: str, password: str) -> str:
    """htdigest has no batch mode: answer its two prompts on a pseudo-terminal."""
    need_tools("htdigest")
    target = tmp_path / f"{user}.htdigest"
    pid, fd = pty.fork()
    if pid == 0:                                        # the child: htdigest on the terminal
        os.execvp("htdigest", ["htdigest", "-c", str(target), realm, user])
    answered, output = 0, b""
    while True:
        ready, _, _ = select.select([fd], [], [], 10)
        if not ready:
            break
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if output.count(b"password:") > answered:
            os.write(fd, password.encode() + b"\n")
            answered += 1
    os.waitpid(pid, 0)
    return target.read_text()


def busybox_md5(password: str) -> str:
    need_tools("busybox")
    return subprocess.run(["busybox", "httpd", "-m", password], capture_output=True, text=True,
                          check=True).stdout.strip()


def run(files: dict[str, str]) -> list[Finding]:
    return list(WebCredentials().run(RootFS.from_files(files)))


def by_user(findings: list[Finding]) -> dict[str, Finding]:
    return {f.details["user"]: f for f in findings}


def test_htpasswd_hashes_of_every_scheme(tmp_path: Path) -> None:
    text = (htpasswd("m", "admin", "admin") + htpasswd("B", "cameraop", "cameraop123")
            + htpasswd("s", "guest", "12345678") + htpasswd("d", "root", "xc3511")
            + htpasswd("5", "ops", STRONG))
    found = by_user(run({"/www/.htpasswd": text}))
    assert set(found) == {"admin", "cameraop", "guest", "root"}          # ops's password holds
    admin = found["admin"]
    assert admin.rule.id == "FP-WEBCRED-001" and admin.severity is Severity.CRITICAL
    assert admin.details["password"] == "admin" and admin.details["scheme"] == "apr1"
    assert admin.evidence.excerpt == text.splitlines()[0]
    assert found["root"].rule.id == "FP-WEBCRED-001" and found["root"].details["scheme"] == "descrypt"
    assert found["cameraop"].rule.id == "FP-WEBCRED-002"
    assert found["cameraop"].details["source"] == "guess derived from the user name"
    assert found["guest"].rule.id == "FP-WEBCRED-002" and found["guest"].details["scheme"] == "sha1"


def test_htdigest_file_named_by_lighttpd(tmp_path: Path) -> None:
    digest = htdigest(tmp_path, "Router", "admin", "1234") + htdigest(tmp_path, "Router", "ops", STRONG)
    conf = ('server.modules += ( "mod_auth" )\nauth.backend = "htdigest"\n'
            'auth.backend.htdigest.userfile = "/etc/lighttpd/users"\n')
    (finding,) = run({"/etc/lighttpd/lighttpd.conf": conf, "/etc/lighttpd/users": digest})
    assert finding.rule.id == "FP-WEBCRED-001" and finding.details["realm"] == "Router"
    assert finding.details["password"] == "1234" and finding.details["scheme"] == "htdigest-md5"
    assert finding.path == "/etc/lighttpd/users"


def test_lighttpd_plain_user_file_is_clear_text() -> None:
    conf = 'auth.backend = "plain"\nauth.backend.plain.userfile = "/etc/lighttpd.user"\n'
    found = by_user(run({"/etc/lighttpd.conf": conf,
                         "/etc/lighttpd.user": f"admin:admin\noperator:{STRONG}\nnobody:\n"
                                               "ops:qwerty\n"}))
    assert found["admin"].rule.id == "FP-WEBCRED-003" and found["admin"].severity is Severity.CRITICAL
    assert found["admin"].details["source"]
    assert "operator" not in found      # strong, even in clear text: not a weak password
    ops = found["ops"]
    assert ops.rule.id == "FP-WEBCRED-003" and ops.severity is Severity.HIGH
    assert ops.details["source"] == "common-password list"
    nobody = found["nobody"]
    assert nobody.rule.id == "FP-WEBCRED-001" and nobody.title.endswith("without a password")


def test_busybox_httpd_conf_accounts() -> None:
    conf = ("A:*\nH:/www\nI:index.html\n.cgi:text/html\nP:/proxy:http://10.0.0.2:80/\n"
            "E404:/404.html\n"
            "/cgi-bin:admin:admin\n"
            f"/adm:root:{busybox_md5('123456')}\n"
            f"/cfg:ops:{busybox_md5(STRONG)}\n")
    found = by_user(run({"/etc/httpd.conf": conf}))
    assert set(found) == {"admin", "root"}
    assert found["admin"].rule.id == "FP-WEBCRED-003" and found["admin"].details["protects"] == "/cgi-bin"
    assert found["admin"].evidence.excerpt == "/cgi-bin:admin:admin"
    root = found["root"]
    assert root.rule.id == "FP-WEBCRED-001" and root.details["password"] == "123456"
    assert root.details["scheme"] == "md5crypt"


def test_nginx_and_apache_name_their_user_files() -> None:
    nginx = "location /admin {\n    auth_basic \"admin\";\n    auth_basic_user_file /etc/nginx/admins;\n}\n"
    apache = "<Directory /srv/www>\n  AuthType Basic\n  AuthUserFile conf/users.db\n</Directory>\n"
    found = run({"/etc/nginx/nginx.conf": nginx, "/etc/nginx/admins": htpasswd("m", "admin", "admin"),
                 "/etc/apache2/apache2.conf": apache,
                 "/etc/apache2/conf/users.db": htpasswd("B", "webmaster", "webmaster")})
    assert sorted((f.path, f.details["user"]) for f in found) == [
        ("/etc/apache2/conf/users.db", "webmaster"), ("/etc/nginx/admins", "admin")]


def test_decoys_give_nothing() -> None:
    """Strong hashes; a `user:password` file no server names as plain; an htpasswd in the
    docs of a package; an Apache httpd.conf, which has no BusyBox account lines."""
    assert run({
        "/www/.htpasswd": htpasswd("m", "admin", STRONG),
        "/etc/app/users.txt": "admin:admin\n",
        "/usr/share/doc/lighttpd/htpasswd": "# user:password lines, e.g.\n# admin:$apr1$...\n",
        "/etc/httpd/conf/httpd.conf": "ServerRoot \"/etc/httpd\"\nListen 80\nUser apache\n",
    }) == []


def test_damaged_hashes_are_skipped_and_the_rest_checked() -> None:
    """Hashes cut short or mangled (passlib raises on a bare `$apr1$salt`): no finding for them,
    no error for the file, and the intact line after them is still checked."""
    text = ("admin:$apr1$0I1qiobl\nroot:$apr1$\nops:{SHA}AAAA\nweb:$6$$\nguest:$2y$05$short\n"
            + htpasswd("m", "support", "support"))
    (finding,) = run({"/www/.htpasswd": text})
    assert finding.details["user"] == "support" and finding.rule.id == "FP-WEBCRED-001"


def test_the_same_account_in_two_copies_is_one_finding() -> None:
    line = htpasswd("m", "admin", "admin")
    (finding,) = run({"/etc/www/.htpasswd": line, "/etc_ro/www/.htpasswd": line})
    assert finding.path == "/etc/www/.htpasswd" and finding.details["copies"] == ["/etc_ro/www/.htpasswd"]


@pytest.mark.slow
def test_scan_of_a_router_image_and_verify(tmp_path: Path) -> None:
    """End to end: a SquashFS root whose web interface keeps admin:admin in .htpasswd."""
    tree = tmp_path / "root"
    (tree / "www").mkdir(parents=True)
    (tree / "etc").mkdir()
    (tree / "www" / ".htpasswd").write_text(htpasswd("m", "admin", "admin"))
    (tree / "etc" / "httpd.conf").write_text(f"H:/www\n/:ops:{busybox_md5(STRONG)}\n")
    image = fixtures.pack(tree, "squashfs-xz", tmp_path / "fw.sqfs")
    report = scan_report(image, tmp_path)
    (finding,) = [f for f in report["findings"] if f["rule"].startswith("FP-WEBCRED")]
    assert finding["rule"] == "FP-WEBCRED-001" and finding["path"] == "/www/.htpasswd"
    verify = firmproof("verify", tmp_path / "report.json", image)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_account_files_known_by_name() -> None:
    """lighttpd's `lighttpd.user` is a plain file and Boa's `boa.passwd` an htpasswd file even
    when no configuration of the image names them; a strong clear-text password is no finding."""
    boa = htpasswd("B", "admin", "password")
    found = by_user(run({"/etc/lighttpd/lighttpd.user": f"root:root\nops:{STRONG}\n",
                         "/etc/boa/boa.passwd": boa}))
    assert set(found) == {"root", "admin"}
    assert found["root"].rule.id == "FP-WEBCRED-003" and found["root"].path == "/etc/lighttpd/lighttpd.user"
    assert found["admin"].path == "/etc/boa/boa.passwd" and found["admin"].details["password"] == "password"
    assert found["admin"].details["scheme"] == "bcrypt"
