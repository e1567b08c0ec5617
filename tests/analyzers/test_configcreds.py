"""FP-CRED-007..009: login passwords in configuration files (NVRAM defaults, INI, XML, JSON,
camera user files). Each rule hits on its case with the value's exact bytes as evidence, and
not on decoys of the same shape: strong values, empty values, templates, Wi-Fi keys, keys that
merely contain "pass", comments and documentation. Hashes come from openssl and hashlib."""

from __future__ import annotations

import hashlib
import secrets
import subprocess

import pytest
from conftest import tool

from firmproof.analyzers.configcreds import ConfigCredentials, is_password_key, words
from firmproof.fs.rootfs import RootFS
from firmproof.model import Severity

STRONG = "S" + secrets.token_urlsafe(18)     # a letter first: openssl would read "-…" as an option


def run(files: dict[str, str]):
    fs = RootFS.from_files(files)
    return fs, list(ConfigCredentials().run(fs))


def evidence(fs: RootFS, finding) -> bytes:
    data = fs.read(finding.path)
    assert data is not None
    assert hashlib.sha256(data).hexdigest() == finding.evidence.sha256
    return data[finding.evidence.offset:finding.evidence.offset + finding.evidence.length]


def openssl_passwd(flag: str, password: str) -> str:
    return subprocess.run([tool("openssl"), "passwd", flag, password], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.parametrize(("key", "expected"), [
    ("http_passwd", True), ("admin_pass", True), ("telnet_password", True), ("super_password", True),
    ("Password", True), ("ConnectionRequestPassword", True), ("X_HW_ACSPassword", True),
    ("user0_pwd", True), ("wl0_wpa_psk", False), ("wl0_wpa_passphrase", False),
    ("passthrough", False), ("password_min_length", False), ("pass_retry", False),
    ("pppoe_passwd", False), ("smtp_pass", False), ("password_enable", False),
])
def test_password_keys(key, expected):
    assert is_password_key(key) is expected, words(key)


# -- FP-CRED-007: a vendor default in clear text ---------------------------------------------

def test_xml_attributes_and_elements():
    xml = ('<X_HW_WebUserInfoInstance InstanceID="2" UserName="telecomadmin" Password="admintelecom"'
           ' Enable="1"/>\n<ManagementServer><ConnectionRequestUsername>admin</ConnectionRequestUsername>'
           '\n<ConnectionRequestPassword>admin</ConnectionRequestPassword></ManagementServer>\n')
    fs, findings = run({"/etc/config/ctree.xml": xml})
    by_user = {f.details["user"]: f for f in findings}
    assert set(by_user) == {"telecomadmin", "admin"}
    assert all(f.rule.id == "FP-CRED-007" for f in findings)
    assert evidence(fs, by_user["telecomadmin"]) == b"admintelecom"
    assert by_user["admin"].details["key"] == "ConnectionRequestPassword"


def test_json_member_in_its_object():
    text = ('{"users": [{"name": "ops", "password": "' + STRONG + '"}, '
            '{"name": "admin", "password": "admin"}]}')
    fs, findings = run({"/etc/config/users.json": text})
    (finding,) = findings
    assert finding.rule.id == "FP-CRED-007" and finding.details["user"] == "admin"
    assert evidence(fs, finding) == b"admin"


def test_ini_section_names_the_user():
    fs, findings = run({"/etc/accounts.ini": "[general]\nmode=1\n[admin]\npassword = admin\n"})
    (finding,) = findings
    assert finding.rule.id == "FP-CRED-007" and finding.details["user"] == "admin"
    assert finding.details["section"] == "admin" and evidence(fs, finding) == b"admin"


# -- FP-CRED-009: the hash of a weak password -----------------------------------------------

def test_hex_digests_of_weak_passwords():
    md5 = hashlib.md5(b"888888", usedforsecurity=False).hexdigest()
    sha = hashlib.sha256(b"qwerty").hexdigest()
    fs, findings = run({"/mnt/mtd/Config/UserInfo": f"user0_name=admin\nuser0_pwd={md5}\n"
                                                    f"user1_name=ops\nuser1_pwd={sha}\n"})
    by_user = {f.details["user"]: f for f in findings}
    assert by_user["admin"].rule.id == "FP-CRED-009" and by_user["admin"].severity is Severity.CRITICAL
    assert by_user["admin"].details["scheme"] == "md5" and by_user["admin"].details["password"] == "888888"
    assert evidence(fs, by_user["admin"]) == md5.encode()
    assert by_user["ops"].severity is Severity.HIGH and by_user["ops"].details["scheme"] == "sha256"


# -- decoys ---------------------------------------------------------------------------------

@pytest.mark.parametrize("files", [
    {"/etc/nvram.default": f"http_username=admin\nhttp_passwd={STRONG}\n"},
    {"/etc/nvram.default": "http_username=admin\nhttp_passwd=${ADMIN_PW}\n"},
    {"/etc/nvram.default": "http_username=admin\nhttp_passwd=@HTTP_PASSWD@\n"},
    {"/etc/nvram.default": "telnet_enable=0\ntelnet_password=\n"},
    {"/etc/nvram.default": "wl0_wpa_psk=12345678\nwl0_wpa_passphrase=password\npppoe_passwd=1234\n"},
    {"/etc/nvram.default": "passthrough=1\npassword_min_length=8\npass_retry=3\n"},
    {"/etc/nvram.default": "# http_passwd=admin\n; http_passwd=admin\n"},
    {"/usr/share/doc/router/README": "http_passwd=admin\n"},
    # an emulation harness's NVRAM override left in a rebuilt image (one value per file)
    {"/firmadyne/libnvram.override": "http_username=admin\nhttp_passwd=admin\n"},
    {"/www/login.js": 'var password="admin";\npassword=admin\n'},
    {"/etc/config/users.xml": "<User><Name>guest</Name><Password></Password><Enable>0</Enable></User>\n"},
    {"/etc/config/users.xml": f'<User UserName="admin" Password="{STRONG}"/>\n'},
    {"/etc/config/users.json": '{"name": "admin", "password": ""}\n'},
    {"/etc/config/UserInfo": "user0_name=admin\nuser0_pwd="
                             + hashlib.md5(STRONG.encode(), usedforsecurity=False).hexdigest() + "\n"},
    {"/etc/config/UserInfo": "user0_name=admin\nuser0_pwd="
                             + hashlib.sha256(STRONG.encode()).hexdigest() + "\n"},
])
def test_decoys_are_not_reported(files):
    _, findings = run(files)
    assert findings == []


def test_strong_crypt_hash_is_not_reported():
    _, findings = run({"/etc/nvram.default": f"http_passwd={openssl_passwd('-1', STRONG)}\n"})
    assert findings == []


def test_account_files_of_other_analyzers_are_left_to_them():
    """passwd copies and web account files are read by FP-CRED-001..006 and FP-WEBCRED."""
    _, findings = run({"/etc/config/passwd": "admin=admin\npassword=admin\n",
                       "/etc/lighttpd/lighttpd.user": "password=admin\n"})
    assert findings == []
