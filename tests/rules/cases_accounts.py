"""FP-CRED-001…006: account databases and telnetd's fixed account (firmproof/analyzers/accounts.py)."""

from __future__ import annotations

from .case import hit, miss

PASSWD = "root:x:0:0:root:/root:/bin/sh\n"
STRONG = "Vq8#tLm2!xR9pZ-unguessable"
TPLINK_V10_ROOT = "$1$GTN.gpri$DlSyKvZKMR9A9Uj9e9wR3/"   # sohoadmin, /etc/shadow of the v10 image


def shadow(*lines: str, passwd: str = PASSWD) -> dict[str, str]:
    return {"/etc/passwd": passwd, "/etc/shadow": "".join(f"{line}:19000:0:99999:7:::\n" for line in lines)}


ALPHA_SCRIPT = """#!/bin/sh
echo [$0]: $1 ... > /dev/console
if [ "$1" = "start" ]; then
\timage_sign=`cat /etc/config/image_sign`
\t# telnetd -u debug:debug
\ttelnetd -l /usr/sbin/login -u Alphanetworks:$image_sign -i br0 &
\ttelnetd -l /bin/login
fi
"""

CASES = [
    hit("FP-CRED-001", "empty-shadow-field", shadow("root:"), "/etc/shadow",
        b"root::19000:0:99999:7:::", details={"user": "root", "password": ""}),
    hit("FP-CRED-001", "empty-passwd-field", {"/etc/passwd": "root::0:0:root:/root:/bin/sh\n"},
        "/etc/passwd", b"root::0:0:root:/root:/bin/sh"),
    miss("FP-CRED-001", "locked-account", shadow("root:!")),
    # 'ghost' is in no passwd entry; 'root' has its own hash in passwd, so shadow is not read
    miss("FP-CRED-001", "shadow-entry-without-account-or-overridden-by-passwd",
         shadow("ghost:", "root:", passwd="root:$1$$iC.dUsGpxNNJGeOm1dFio/:0:0:root:/root:/bin/sh\n")),

    hit("FP-CRED-002", "tplink-v10-root-hash", shadow(f"root:{TPLINK_V10_ROOT}"), "/etc/shadow",
        TPLINK_V10_ROOT.encode(), details={"user": "root", "password": "sohoadmin"}),
    miss("FP-CRED-002", "strong-password",
         lambda kit: shadow("root:" + kit.passwd_hash("-1", STRONG, "Zq3saltX"))),

    hit("FP-CRED-003", "common-password",
        lambda kit: shadow("operator:" + kit.passwd_hash("-1", "sunshine", "Zq3saltX"),
                           passwd=PASSWD + "operator:x:11:0::/:/bin/sh\n"),
        "/etc/shadow", lambda data: data.split(b":")[1],
        details={"password": "sunshine", "source": "common-password list"}),
    miss("FP-CRED-003", "strong-password",
         lambda kit: shadow("operator:" + kit.passwd_hash("-1", STRONG, "Zq3saltX"),
                            passwd=PASSWD + "operator:x:11:0::/:/bin/sh\n")),

    hit("FP-CRED-004", "plaintext-password",
        {"/etc/config/passwd": "root:x:0:0:root:/root:/bin/sh\ntech:t3chP4ss:100:100::/:/bin/sh\n"},
        "/etc/config/passwd", b"t3chP4ss",
        details={"user": "tech", "account": "user", "shell": "/bin/sh", "password": "t3chP4ss"}),
    miss("FP-CRED-004", "ldap-hash-in-the-password-field",
         {"/etc/passwd": "root:{SSHA}abcdefgh:0:0:root:/:/bin/sh\n"}),
    miss("FP-CRED-004", "files-that-are-no-account-database",
         {"/etc/pam.d/passwd": "password include common-password\n",
          "/usr/share/doc/passwd.txt": "tech:t3chP4ss:100:100::/:/bin/sh\n"}),

    hit("FP-CRED-005", "second-uid0",
        lambda kit: shadow("root:!", "admin:" + kit.passwd_hash("-1", STRONG, "s4lt"),
                           passwd=PASSWD + "admin:x:0:0:admin:/:/bin/sh\n"),
        "/etc/passwd", b"admin:x:0:0:admin:/:/bin/sh", details={"uid": 0, "password_state": "hash"}),
    miss("FP-CRED-005", "other-uids-and-gid-0",
         shadow("root:!", passwd=PASSWD + "daemon:x:1:1::/:/bin/false\noperator:x:11:0::/root:/bin/sh\n")),

    hit("FP-CRED-006", "alphanetworks-password-read-from-a-file",
        {"/etc/init0.d/S80telnetd.sh": ALPHA_SCRIPT, "/etc/config/image_sign": "wrgn80_trendnet_tew733gr\n"},
        "/etc/init0.d/S80telnetd.sh", b"telnetd -l /usr/sbin/login -u Alphanetworks:$image_sign -i br0",
        details={"user": "Alphanetworks", "password": "wrgn80_trendnet_tew733gr",
                 "password_expression": "$image_sign", "password_file": "/etc/config/image_sign",
                 "login": "/usr/sbin/login"}),
    miss("FP-CRED-006", "commented-out",
         {"/etc/init.d/telnet": "#!/bin/sh\n"
                                "# telnetd -l /usr/sbin/login -u Alphanetworks:$image_sign -i br0\n"
                                "telnetd -l /bin/login\n"}),
]
