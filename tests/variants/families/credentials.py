"""Default credentials that ship outside /etc/passwd and /etc/shadow: NVRAM default files,
ONT/CPE XML configuration databases, JSON and INI account files, web server account files
(lighttpd plain, .htpasswd, boa), a camera's user file of hex digests, and copies of the
account databases holding well-known vendor hashes.

Each true variant holds a password that is empty-by-design-not, a published vendor default or
a word of a small list, in clear text or hashed; the finding must be `credential.weak-password`
at that file. Each decoy has the same shape with what is not a weak login password:

- a strong password, generated with `secrets` at test time, in the same place (clear text or
  hashed). A strong hard-coded password is not `credential.weak-password`: the contract calls a
  password weak when it is empty, a known vendor default or falls to a small wordlist, and a
  unique strong one is none of these (firmproof reports no category for it);
- an empty value of a disabled account, a template or variable (`${ADMIN_PW}`, `@ADMIN_PW@`);
- a Wi-Fi key (`wl0_wpa_psk`), keys that only contain "pass" (`passthrough`,
  `password_min_length`), commented-out lines and documentation.

Hashes are made by real tools at test time: `openssl passwd` (MD5-crypt, SHA-crypt), Apache's
`htpasswd` (bcrypt, DES), hashlib for the hex digests; none is written by hand. TP-Link's
MD5-crypt with an empty salt, `$1$$zdlNHiCDxYDfeF4MZL.H3/` (password `5up`), is reproduced with
`openssl passwd -1 -salt '' 5up`.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache

from tests.variants.corpus import Variant

FAMILY = "default-credentials"
CATEGORY = "credential.weak-password"
FORBID = (CATEGORY,)


@cache
def strong(tag: str) -> str:
    """A strong password, unique to this run (one per tag, so a variant's files agree)."""
    # a letter first: a value starting with '-' would be read as an option by openssl/htpasswd
    return "S" + secrets.token_urlsafe(18) + "-" + tag


def openssl_passwd(flag: str, password: str, salt: str | None = None) -> str:
    command = ["openssl", "passwd", flag]
    if salt is not None:
        command += ["-salt", salt]
    return subprocess.run([*command, password], capture_output=True, text=True,
                          check=True).stdout.strip()


def htpasswd(option: str, user: str, password: str) -> str:
    """`user:hash` from Apache's htpasswd (B bcrypt, d DES, m apr1)."""
    if shutil.which("htpasswd") is None:
        # the same schemes from openssl when htpasswd is missing (bcrypt has no openssl form)
        flag = {"d": "-crypt", "m": "-apr1"}.get(option, "-6")
        return f"{user}:{openssl_passwd(flag, password)}"
    return subprocess.run(["htpasswd", f"-nb{option}", user, password], capture_output=True,
                          text=True, check=True).stdout.strip()


def hexdigest(name: str, password: str) -> str:
    return hashlib.new(name, password.encode()).hexdigest()


def _pair(name: str, path: str, make: object, weak: str, decoy_value: str | None = None,
          *, extra: dict[str, str] | None = None, known_miss: str | None = None) -> Iterator[Variant]:
    """A true variant (`make(weak)` at `path`) and its decoy (`make(strong)`, or `decoy_value`)."""
    assert callable(make)
    files = {path: make(weak), **(extra or {})}
    yield Variant(FAMILY, name, files, (CATEGORY, path), known_miss=known_miss)
    strong_pw = strong(name)
    decoy = {path: make(strong_pw) if decoy_value is None else decoy_value, **(extra or {})}
    yield Variant(FAMILY, f"{name}-decoy", decoy, None, forbid=FORBID)


NVRAM_TAIL = "lan_ipaddr=192.168.1.1\nlan_netmask=255.255.255.0\nwl0_ssid=Router\n"


def variants() -> Iterator[Variant]:
    # -- NVRAM defaults, key=value, the user a separate key ----------------------------------
    yield from _pair(
        "nvram-default-http-passwd", "/etc/nvram.default",
        lambda pw: f"http_username=admin\nhttp_passwd={pw}\n{NVRAM_TAIL}", "admin")
    yield from _pair(
        "etc-ro-default-cfg-admin-pass", "/etc_ro/default.cfg",
        lambda pw: f"admin_user=admin\nadmin_pass={pw}\n{NVRAM_TAIL}", "1234",
        decoy_value="admin_user=admin\nadmin_pass=${ADMIN_PW}\n" + NVRAM_TAIL)
    yield from _pair(
        "config-nvram-telnet-password", "/etc/config/system.nvram",
        lambda pw: f"telnet_enable=1\ntelnet_username=root\ntelnet_password={pw}\n", "Zte521",
        decoy_value="telnet_enable=0\ntelnet_username=root\ntelnet_password=\n")
    yield from _pair(
        "usr-etc-default-super-password", "/usr/etc/default",
        lambda pw: f"super_username=telecomadmin\nsuper_password={pw}\nuser_username=user\n",
        "admintelecom")
    yield from _pair(
        "nvram-beside-wifi-psk", "/etc/config/wireless.nvram",
        lambda pw: f"wl0_ssid=Home\nwl0_wpa_psk=12345678\nhttp_user=admin\nhttp_pwd={pw}\n", "password",
        decoy_value="wl0_ssid=Home\nwl0_wpa_psk=12345678\nwl0_wpa_passphrase=password\n"
                    "wps_pin=12345670\nhttp_user=admin\n")
    yield from _pair(
        "nvram-key-merely-contains-pass", "/etc/nvram.default",
        lambda pw: f"passthrough=1\npassword_min_length=8\nsys_user=root\nsys_passwd={pw}\n", "root",
        decoy_value="passthrough=1\npassword_min_length=8\npassword_enable=1\nipv6_passthrough=1\n"
                    "pass_retry=3\n")
    yield from _pair(
        "nvram-quoted-value", "/etc/default/nvram.txt",
        lambda pw: f'login_user="admin"\nlogin_password="{pw}"\n', "12345",
        decoy_value='# factory default: login_password="12345"\n; login_password="12345"\n'
                    'login_user="admin"\nlogin_password="@LOGIN_PASSWORD@"\n')
    # documentation quoting a default is not a default the image ships
    yield Variant(FAMILY, "documentation-decoy",
                  {"/usr/share/doc/router/README": "The web login is http_username=admin and "
                                                   "http_passwd=admin.\nhttp_passwd=admin\n"},
                  None, forbid=FORBID)

    # -- XML configuration databases (ONT/CPE) ------------------------------------------------
    yield from _pair(
        "xml-huawei-web-user-attributes", "/etc/config/hw_default_ctree.xml",
        lambda pw: ('<?xml version="1.0"?>\n<InternetGatewayDevice>\n<UserInterface>\n'
                    '<X_HW_WebUserInfo NumberOfInstances="2">\n'
                    '<X_HW_WebUserInfoInstance InstanceID="1" UserName="root" Password="'
                    + strong("hw-root") + '" UserLevel="1" Enable="1"/>\n'
                    f'<X_HW_WebUserInfoInstance InstanceID="2" UserName="telecomadmin" Password="{pw}"'
                    ' UserLevel="0" Enable="1"/>\n</X_HW_WebUserInfo>\n</UserInterface>\n'
                    '</InternetGatewayDevice>\n'), "admintelecom")
    yield from _pair(
        "xml-user-elements", "/etc/config/users.xml",
        lambda pw: f"<Users>\n  <User>\n    <Name>root</Name>\n    <Password>{pw}</Password>\n"
                   "    <Enable>1</Enable>\n  </User>\n</Users>\n", "root",
        decoy_value="<Users>\n  <User>\n    <Name>guest</Name>\n    <Password></Password>\n"
                    "    <Enable>0</Enable>\n  </User>\n</Users>\n")
    yield from _pair(
        "xml-tr069-connection-request", "/etc/config/tr069.xml",
        lambda pw: "<ManagementServer>\n<URL>http://acs.example.net:7547/</URL>\n"
                   "<ConnectionRequestUsername>admin</ConnectionRequestUsername>\n"
                   f"<ConnectionRequestPassword>{pw}</ConnectionRequestPassword>\n"
                   "</ManagementServer>\n", "admin")
    yield from _pair(
        "xml-vendor-acs-password", "/etc/config/cwmp_default.xml",
        lambda pw: "<X_CT-COM_TeleComAccount>\n<X_HW_ACSUsername>support</X_HW_ACSUsername>\n"
                   f"<X_HW_ACSPassword>{pw}</X_HW_ACSPassword>\n</X_CT-COM_TeleComAccount>\n",
        "support",
        decoy_value="<X_CT-COM_TeleComAccount>\n<X_HW_ACSUsername>support</X_HW_ACSUsername>\n"
                    "<X_HW_ACSPassword>$(ACS_PASSWORD)</X_HW_ACSPassword>\n"
                    "</X_CT-COM_TeleComAccount>\n")

    # -- JSON and INI ---------------------------------------------------------------------------
    yield from _pair(
        "json-users-array", "/etc/config/users.json",
        lambda pw: '{"users": [{"name": "operator", "password": "' + strong("json-op") + '"},\n'
                   '  {"name": "admin", "password": "' + pw + '", "role": "admin"}]}\n', "admin")
    yield from _pair(
        "json-web-login", "/etc/webui/login.json",
        lambda pw: '{\n  "login": {\n    "enabled": true,\n    "username": "root",\n'
                   f'    "password": "{pw}"\n  }}\n}}\n', "12345",
        decoy_value='{\n  "login": {\n    "enabled": false,\n    "username": "root",\n'
                    '    "password": ""\n  }\n}\n')
    yield from _pair(
        "ini-section-named-after-user", "/etc/default/accounts.ini",
        lambda pw: f"[general]\nmode=router\n\n[admin]\npassword={pw}\nlevel=0\n", "admin")
    yield from _pair(
        "ini-user-key", "/etc/webui.ini",
        lambda pw: f"[login]\nusername = user\npassword = {pw}\npassword_min_length = 8\n", "user",
        decoy_value="[login]\nusername = user\npassword_min_length = 8\npassword_required = 1\n")

    # -- web server account files ----------------------------------------------------------------
    yield from _pair(
        "lighttpd-plain-user-file", "/etc/lighttpd/lighttpd.user",
        lambda pw: f"admin:{pw}\n", "admin")
    yield from _pair(
        "htpasswd-md5crypt", "/www/.htpasswd",
        lambda pw: f"admin:{openssl_passwd('-1', pw)}\n", "admin")
    yield from _pair(
        "htpasswd-bcrypt", "/etc/mini_httpd/.htpasswd",
        lambda pw: htpasswd("B", "admin", pw) + "\n", "password")
    yield from _pair(
        "htpasswd-des", "/www/cgi-bin/.htpasswd",
        lambda pw: htpasswd("d", "root", pw) + "\n", "root")
    yield from _pair(
        "boa-passwd-sha512crypt", "/etc/boa/boa.passwd",
        lambda pw: f"admin:{openssl_passwd('-6', pw)}\n", "1234")

    # -- a camera's user file: hex digests ----------------------------------------------------
    yield from _pair(
        "camera-userinfo-md5", "/mnt/mtd/Config/UserInfo",
        lambda pw: f"user0_name=admin\nuser0_pwd={hexdigest('md5', pw)}\nuser0_level=0\n", "888888")
    yield from _pair(
        "camera-userinfo-sha256", "/etc/config/UserInfo.cfg",
        lambda pw: f"[user1]\nname=admin\npassword={hexdigest('sha256', pw)}\n", "12345")

    # -- account databases beside the live ones, with vendor hashes ------------------------------
    yield from _pair(
        "tplink-passwd-bak-empty-salt", "/etc/passwd.bak",
        lambda pw: f"admin:{openssl_passwd('-1', pw, '')}:500:500:admin:/:/bin/sh\n", "5up")
    yield from _pair(
        "config-shadow-sha256crypt", "/etc/config/shadow",
        lambda pw: f"root:{openssl_passwd('-5', pw)}:19000:0:99999:7:::\n", "root")
    yield from _pair(
        "var-passwd-sha512crypt", "/var/passwd",
        lambda pw: f"admin:{openssl_passwd('-6', pw)}:500:500:admin:/:/bin/sh\n", "admin")
