"""FP-CRED rules and the hash checking under them: each rule hits on its case with the exact
bytes as evidence (the hash field, or the whole line), and not on its decoys."""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from conftest import corpus_file, scan_report, tool

from firmproof.analyzers.accounts import Accounts
from firmproof.analyzers.common import SHORT_LIST, Cracker, candidates, classify
from firmproof.device import crypt
from firmproof.device.wordlists import common_passwords, default_credentials
from firmproof.fs.rootfs import RootFS
from firmproof.model import Category, Severity

# public facts from the shared corpus (see its MANIFEST): TP-Link stock images
TPLINK_V10_ROOT = "$1$GTN.gpri$DlSyKvZKMR9A9Uj9e9wR3/"      # sohoadmin, /etc/shadow of the v10 image
TPLINK_V14_ADMIN = "$1$$iC.dUsGpxNNJGeOm1dFio/"             # 1234, /etc/passwd.bak of the v14 image
STRONG = "Vq8#tLm2!xR9pZ-unguessable"
PASSWD = "root:x:0:0:root:/root:/bin/sh\n"


def openssl_passwd(flag: str, password: str, salt: str) -> str:
    """A crypt hash made by a tool other than the code under test."""
    out = subprocess.run([tool("openssl"), "passwd", flag, "-salt", salt, password], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def shadow_line(user: str, field: str) -> str:
    return f"{user}:{field}:19000:0:99999:7:::"


def run(fs: RootFS, rule_id: str | None = None):
    return [f for f in Accounts().run(fs) if rule_id is None or f.rule.id == rule_id]


def evidence(fs: RootFS, finding) -> bytes:
    data = fs.read(finding.path)
    assert data is not None
    assert hashlib.sha256(data).hexdigest() == finding.evidence.sha256
    return data[finding.evidence.offset:finding.evidence.offset + finding.evidence.length]


def accounts(shadow: list[str], passwd: str = PASSWD, **extra: str) -> RootFS:
    files = {"/etc/passwd": passwd, "/etc/shadow": "\n".join(shadow) + "\n"}
    files.update(extra)
    return RootFS.from_files(files)


# -- crypt ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("hashed", "scheme"), [
    ("abJnggxhB/yWI", "descrypt"), ("_J9..abcdWNy9VUCfAYk", "bsdicrypt"),
    (TPLINK_V10_ROOT, "md5crypt"), ("$5$salt$" + "a" * 43, "sha256crypt"),
    ("$6$rounds=5000$salt$" + "a" * 86, "sha512crypt"), ("$2b$10$" + "a" * 53, "bcrypt"),
    ("$y$j9T$salt$" + "a" * 43, "yescrypt"), ("$7$CU..../....salt$" + "a" * 43, "scrypt"),
])
def test_scheme_of(hashed, scheme):
    found = crypt.scheme_of(hashed)
    assert found is not None and found.name == scheme


@pytest.mark.parametrize("text", ["admin", "x", "*", "!!", "$apr1$salt$hash", "", "secretpw"])
def test_scheme_of_rejects_what_is_no_crypt_hash(text):
    assert crypt.scheme_of(text) is None


def test_the_corpus_hashes_are_checked():
    assert crypt.check("sohoadmin", TPLINK_V10_ROOT)
    assert crypt.check("1234", TPLINK_V14_ADMIN)
    assert not crypt.check("sohoadmin", TPLINK_V14_ADMIN)


@pytest.mark.parametrize("flag", ["-1", "-5", "-6"])
def test_check_agrees_with_openssl(flag):
    hashed = openssl_passwd(flag, "xc3511", "Zq3saltX")
    assert crypt.check("xc3511", hashed) and not crypt.check("xc3512", hashed)


def test_slow_schemes_get_few_guesses():
    bcrypt10 = crypt.crypt("notinanylist", "$2b$10$abcdefghijklmnopqrstuu")
    yescrypt = crypt.crypt("notinanylist", "$y$j9T$abcdefghijklmnop$")
    assert bcrypt10 and yescrypt
    assert crypt.guesses_allowed(bcrypt10, 1.0) < 40
    assert crypt.guesses_allowed(yescrypt, 1.0) < 80
    assert crypt.guesses_allowed(TPLINK_V10_ROOT, 1.0) > len(candidates("root"))   # md5: everything
    assert crypt.crack(bcrypt10, candidates("root"), 1.0) is None   # bounded by the guess count above


def test_crack_is_deterministic_and_bounded():
    hashed = crypt.crypt("zzz", "$6$rounds=500000$saltsalt$")     # 100x the default cost
    assert hashed
    assert crypt.guesses_allowed(hashed, 1.0) < 10
    assert crypt.crack(hashed, ["a", "b", "zzz"], 1.0) == "zzz"
    assert crypt.crack(hashed, [*"abcdefghijklmnop", "zzz"], 1.0) is None


def test_total_budget_leaves_later_hashes_the_short_list():
    """Past the budget of a file system, a hash only gets the head of its guesses."""
    first = openssl_passwd("-6", "sunshine", "saltAAAA")
    second = openssl_passwd("-6", "sunshine", "saltBBBB")
    cracker = Cracker(total_budget=0.1)
    assert cracker.crack("bob", first) == "sunshine"
    assert cracker.spent > 0.1
    assert cracker.crack("bob", second) is None
    assert candidates("bob").index("sunshine") > SHORT_LIST


def test_without_libcrypt_the_other_findings_stay_and_an_error_is_raised(monkeypatch):
    def missing():
        raise crypt.CryptUnavailable("libcrypt cannot be loaded")

    monkeypatch.setattr(crypt, "_lib", missing)
    fs = accounts([shadow_line("root", TPLINK_V10_ROOT), shadow_line("guest", "")],
                  passwd=PASSWD + "guest:x:1000:1000::/:/bin/sh\n")
    found = []
    with pytest.raises(crypt.CryptUnavailable, match="1 password hashes not checked"):
        for finding in Accounts().run(fs):
            found.append(finding.rule.id)
    assert found == ["FP-CRED-001"]


def test_word_lists_load():
    defaults = default_credentials()
    assert ("root", "xc3511") in {(d.user, d.password) for d in defaults}
    assert ("Alphanetworks", "wrgn76_dlwbr_dir605L") in {(d.user, d.password) for d in defaults}
    assert all(d.source for d in defaults)
    assert 250 <= len(common_passwords()) <= 1000 and common_passwords()[0] == "123456"
    ordered = candidates("root")
    assert ordered[:4] == ["", "root", "xc3511", "xmhdipc"] and "toor" in ordered
    assert len(ordered) == len(set(ordered))


def test_classify():
    assert classify("root", "sohoadmin")[0] == "default"
    assert classify("admin", "xc3511") == ("default", "KB#11 Xiongmai hard-coded telnet root password (Mirai)"
                                           " (listed for user root)")
    assert classify("support", "support123") == ("common", "guess derived from the user name")
    assert classify("bob", "sunshine") == ("common", "common-password list")


# FP-CRED-001: empty passwords ------------------------------------------------------------

def test_fp_cred_001_hash_of_the_empty_password():
    hashed = openssl_passwd("-1", "", "emptysal")
    fs = accounts([shadow_line("root", hashed)])
    (finding,) = run(fs, "FP-CRED-001")
    assert evidence(fs, finding) == hashed.encode()
    assert finding.details["scheme"] == "md5crypt"


def test_fp_cred_001_non_login_shell_is_medium():
    fs = accounts([shadow_line("ftp", "")], passwd=PASSWD + "ftp:x:21:21::/srv/ftp:/sbin/nologin\n")
    (finding,) = run(fs, "FP-CRED-001")
    assert finding.severity is Severity.MEDIUM and finding.details["shell"] == "/sbin/nologin"


@pytest.mark.parametrize("field", ["!", "*", "!!", "*LK*", "x", "NP", "!" + TPLINK_V14_ADMIN, "!*"])
def test_fp_cred_001_locked_accounts_are_no_finding(field):
    assert run(accounts([shadow_line("root", field)])) == []


# FP-CRED-002: vendor defaults ----------------------------------------------------------

def test_fp_cred_002_tplink_v10_root_hash():
    line = shadow_line("root", TPLINK_V10_ROOT)
    fs = accounts([line])
    (finding,) = run(fs, "FP-CRED-002")
    assert evidence(fs, finding) == TPLINK_V10_ROOT.encode()
    assert finding.details["user"] == "root" and finding.details["password"] == "sohoadmin"
    assert "TP-Link" in finding.details["source"] and finding.severity is Severity.CRITICAL
    assert finding.category is Category.WEAK_PASSWORD


def test_fp_cred_002_tplink_v14_passwd_bak():
    bak = f"admin:{TPLINK_V14_ADMIN}:0:0:root:/:/bin/sh\n"
    fs = RootFS.from_files({"/etc/passwd.bak": bak})
    (finding,) = run(fs, "FP-CRED-002")
    assert finding.path == "/etc/passwd.bak"
    assert evidence(fs, finding) == TPLINK_V14_ADMIN.encode()
    assert finding.details["password"] == "1234" and finding.details["scheme"] == "md5crypt"


@pytest.mark.parametrize(("user", "password", "setting"), [
    ("root", "xc3511", "ab"),                                   # traditional DES
    ("root", "Zte521", "$6$Zq3saltX$"),                         # SHA-512
    ("root", "xmhdipc", "$2b$10$abcdefghijklmnopqrstuu"),       # bcrypt, a slow scheme
    ("Alphanetworks", "wrgn76_dlwbr_dir605L", "$y$j9T$abcdefghijklmnop$"),   # yescrypt
])
def test_fp_cred_002_every_scheme(user, password, setting):
    hashed = crypt.crypt(password, setting)
    assert hashed
    fs = accounts([shadow_line(user, hashed)], passwd=PASSWD + f"{user}:x:0:0::/:/bin/sh\n"
                  if user != "root" else PASSWD)
    (finding,) = run(fs, "FP-CRED-002")
    assert evidence(fs, finding) == hashed.encode() and finding.details["password"] == password


def test_fp_cred_002_identical_copy_is_one_finding():
    line = shadow_line("root", TPLINK_V10_ROOT)
    fs = accounts([line], **{"/etc/shadow-": line + "\n", "/var/backup/shadow.bak": line + "\n"})
    (finding,) = run(fs, "FP-CRED-002")
    assert finding.path == "/etc/shadow"
    assert finding.details["copies"] == ["/etc/shadow-", "/var/backup/shadow.bak"]


def test_fp_cred_002_a_copy_with_another_hash_is_its_own_finding():
    other = openssl_passwd("-1", "admin", "oldsalt1")
    fs = accounts([shadow_line("root", TPLINK_V10_ROOT)], **{"/etc/shadow-": shadow_line("root", other)})
    found = {(f.path, f.details["password"]) for f in run(fs, "FP-CRED-002")}
    assert found == {("/etc/shadow", "sohoadmin"), ("/etc/shadow-", "admin")}


def test_fp_cred_002_strong_password_is_no_finding():
    hashed = openssl_passwd("-6", STRONG, "Zq3saltX")
    assert run(accounts([shadow_line("root", hashed)])) == []


# FP-CRED-003: common passwords ----------------------------------------------------------

def test_fp_cred_003_password_derived_from_the_user_name():
    hashed = openssl_passwd("-5", "support123", "Zq3saltX")
    fs = accounts([shadow_line("support", hashed)], passwd=PASSWD + "support:x:1000:1000::/:/bin/sh\n")
    (finding,) = run(fs, "FP-CRED-003")
    assert finding.details["source"] == "guess derived from the user name"
    assert evidence(fs, finding) == hashed.encode()


def test_fp_cred_003_group_password_hash():
    hashed = openssl_passwd("-1", "letmein", "Zq3saltX")
    fs = RootFS.from_files({"/etc/gshadow": f"wheel:{hashed}::root\nusers:!::\n"})
    (finding,) = run(fs, "FP-CRED-003")
    assert finding.details["account"] == "group" and evidence(fs, finding) == hashed.encode()


def test_fp_cred_003_strong_password_is_no_finding():
    hashed = openssl_passwd("-1", STRONG, "Zq3saltX")
    assert run(accounts([shadow_line("support", hashed)]), "FP-CRED-003") == []


# FP-CRED-004: clear text in the password field -----------------------------------------

def test_fp_cred_004_plaintext_vendor_default_names_its_source():
    fs = RootFS.from_files({"/etc/passwd": "root:xc3511:0:0:root:/:/bin/sh\n"})
    (finding,) = run(fs, "FP-CRED-004")
    assert "Xiongmai" in finding.details["source"]


@pytest.mark.parametrize("field", ["x", "*", "!", "!!", "*LK*", "$apr1$abc$defghijklmnopqrstuvwxy",
                                   "{SSHA}abcdefgh", "5f4dcc3b5aa765d61d8327deb882cf99"])
def test_fp_cred_004_decoys(field):
    fs = RootFS.from_files({"/etc/passwd": f"root:{field}:0:0:root:/:/bin/sh\n"})
    assert run(fs, "FP-CRED-004") == []


def test_fp_cred_004_not_in_files_that_are_no_account_database():
    fs = RootFS.from_files({"/etc/pam.d/passwd": "password include common-password\n",
                            "/usr/share/doc/passwd.txt": "tech:t3chP4ss:100:100::/:/bin/sh\n"})
    assert run(fs) == []


# FP-CRED-005: second uid-0 account -------------------------------------------------------

def test_fp_cred_005_locked_second_uid0_is_medium():
    fs = RootFS.from_files({"/etc/passwd": PASSWD + "nobody:*:0:0:nobody:/:/bin/sh\n"})
    (finding,) = run(fs, "FP-CRED-005")
    assert finding.severity is Severity.MEDIUM and finding.details["password_state"] == "locked"


# FP-CRED-006: telnetd -u user:password ---------------------------------------------------

def test_fp_cred_006_unresolved_and_literal_passwords():
    script = 'PW=$(nvram get telnet_pw)\nutelnetd -u root:$PW -p 23 &\nbusybox telnetd -u "admin:s3cret"\n'
    fs = RootFS.from_files({"/etc/rc.d/rc.telnet": script})
    first, second = run(fs, "FP-CRED-006")
    assert evidence(fs, first) == b"utelnetd -u root:$PW -p 23"
    assert first.details == {"user": "root", "password": "$PW", "password_resolved": False}
    assert evidence(fs, second) == b'busybox telnetd -u "admin:s3cret"'
    assert second.details == {"user": "admin", "password": "s3cret"}


def test_fp_cred_006_decoys():
    script = ("#!/bin/sh\n# telnetd -l /usr/sbin/login -u Alphanetworks:$image_sign -i br0\n"
              "telnetd -l /bin/login\n")
    fs = RootFS.from_files({"/etc/init.d/telnet": script})
    assert run(fs) == []


# the shared corpus, end to end through the CLI ----------------------------------------------

@pytest.mark.corpus
@pytest.mark.parametrize(("image", "rule", "path", "user", "password"), [
    ("tplink_tl-wr841n-v10_en_3.16.9_150310_up_boot.bin", "FP-CRED-002", "/etc/shadow", "root", "sohoadmin"),
    ("tplink_tl-wr841n-v14-eu_stock_2023.bin", "FP-CRED-002", "/etc/passwd.bak", "admin", "1234"),
    ("trendnet_tew-733gr_v1.02b01_rootfs_squashfs-lzma.squashfs", "FP-CRED-006",
     "/etc/init0.d/S80telnetd.sh", "Alphanetworks", "wrgn80_trendnet_tew733gr"),
])
def test_corpus_credentials(tmp_path, image, rule, path, user, password):
    report = scan_report(corpus_file(image), tmp_path)
    # a rule whose bytes a known-backdoor rule reports too is named in that finding (`also`)
    hits = [f for f in report["findings"] if f["path"] == path
            and rule in (f["rule"], *f["details"].get("also", ()))]
    assert [(f["details"]["user"], f["details"]["password"]) for f in hits] == [(user, password)]


def test_tplink_empty_salt_md5crypt_is_a_vendor_default():
    """TP-Link's `$1$$zdlNHiCDxYDfeF4MZL.H3/` (MD5-crypt, empty salt), made here by openssl."""
    hashed = openssl_passwd("-1", "5up", "")
    assert hashed == "$1$$zdlNHiCDxYDfeF4MZL.H3/"
    fs = RootFS.from_files({"/etc/passwd": PASSWD,
                            "/etc/passwd.bak": f"admin:{hashed}:500:500:admin:/:/bin/sh\n"})
    (finding,) = run(fs, "FP-CRED-002")
    assert finding.path == "/etc/passwd.bak" and finding.details["password"] == "5up"
    assert evidence(fs, finding) == hashed.encode() and "TP-Link" in finding.details["source"]


@pytest.mark.parametrize(("path", "text"), [
    # OpenWrt 15.05's /etc/profile, and later releases' wording
    ("/etc/profile", "if ( grep -qs '^root::' /etc/shadow && [ -z \"$FAILSAFE\" ] )\nthen\n"
                     "cat << EOF\n Use 'passwd' to set your login password\nEOF\nfi\n"),
    ("/etc/profile", "echo 'There is no root password defined on this device!'\n"),
    ("/usr/libexec/login.sh",
     "[ \"$(awk -F: '/^root:/ {print $2}' /etc/shadow)\" ] || exec /bin/ash --login\n"),
    # OpenWrt 15.05's /bin/login.sh (telnet's login program)
    ("/bin/login.sh", "if ( ! grep -qsE '^root:[!x]?:' /etc/shadow ) && [ -z \"$FAILSAFE\" ]\n"),
])
def test_fp_cred_001_documented_first_boot_state_is_medium(path, text):
    """An empty root password in an image that itself asks for one to be set (a distribution's
    documented first-boot state) is medium, naming the file; the same shadow line without
    such a prompt stays critical (tests/rules/cases_accounts.py, empty-shadow-field)."""
    fs = RootFS.from_files({"/etc/shadow": shadow_line("root", "") + "\n", path: text})
    (finding,) = run(fs, "FP-CRED-001")
    assert finding.severity is Severity.MEDIUM and finding.details["first_boot"] == path


def test_fp_cred_001_a_prompt_for_another_account_changes_nothing():
    fs = RootFS.from_files({"/etc/shadow": shadow_line("admin", "") + "\n",
                            "/etc/profile": "echo 'There is no root password defined on this device!'\n"})
    (finding,) = run(fs, "FP-CRED-001")
    assert finding.severity is Severity.CRITICAL and "first_boot" not in finding.details
