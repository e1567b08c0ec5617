"""FP-CRED-007…009: login passwords in configuration files (firmproof/analyzers/configcreds.py)."""

from __future__ import annotations

import hashlib

from firmproof.model import Severity

from .case import hit, miss

STRONG = "S7q-Vendor-Unique-xK2pW9"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


CASES = [
    hit("FP-CRED-007", "nvram-default-at-its-value",
        {"/etc/nvram.default": "lan_ipaddr=192.168.1.1\nhttp_username=admin\nhttp_passwd=admin\n"},
        "/etc/nvram.default", b"admin", at=len("lan_ipaddr=192.168.1.1\nhttp_username=admin\nhttp_passwd="),
        details={"user": "admin", "password": "admin", "key": "http_passwd"}),
    miss("FP-CRED-007", "commented-out",
         {"/etc/nvram.default": "# http_passwd=admin\n; http_passwd=admin\n"}),

    hit("FP-CRED-008", "common-password-in-clear-text",
        {"/etc_ro/default.cfg": 'sys_user="ops"\nsys_password="qwerty"\n'}, "/etc_ro/default.cfg", b"qwerty",
        details={"source": "common-password list"}),
    miss("FP-CRED-008", "strong-password-in-clear-text",
         {"/etc_ro/default.cfg": f'sys_user="ops"\nsys_password="{STRONG}"\n'}),

    hit("FP-CRED-009", "sha256-of-a-common-password",
        {"/mnt/mtd/Config/UserInfo": f"user1_name=ops\nuser1_pwd={sha256('qwerty')}\n"},
        "/mnt/mtd/Config/UserInfo", sha256("qwerty").encode(),
        details={"user": "ops", "scheme": "sha256", "password": "qwerty"}),
    hit("FP-CRED-009", "crypt-hash-of-a-vendor-default",
        lambda kit: {"/etc/config/system.nvram":
                     "root_username=root\nroot_password=" + kit.passwd_hash("-5", "root", "n7Qsalt") + "\n"},
        "/etc/config/system.nvram", lambda data: data.split(b"root_password=")[1].rstrip(b"\n"),
        severity=Severity.CRITICAL, details={"scheme": "sha256crypt", "password": "root"}),
    miss("FP-CRED-009", "sha256-of-a-strong-password",
         {"/mnt/mtd/Config/UserInfo": f"user1_name=ops\nuser1_pwd={sha256(STRONG)}\n"}),
]
