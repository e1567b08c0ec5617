// Documented real-world backdoors: one yara rule per FP-KNOWN rule (firmproof/analyzers/known.py).
//
// Conventions (checked by tests/analyzers/test_known.py):
//   meta rule_id   the FP-KNOWN id this rule raises; the Python side holds its docs and references
//   $key*          the pattern whose match is the evidence (the first one that matched)
//   meta check     a structural check done in Python after the match ("crypt": an account line
//                  whose hash verifies against one of `passwords` for `user`)
// Globals set per file: ftype (elf | script | text | data, see firmproof/fs/filetype.py).
// Symbol names are matched as NUL-delimited strings of the string tables ("\x00recvfrom\x00"),
// which works for dynamic and for static, not stripped programs. A literal compiled into a
// program ends with NUL: "…\x00" keeps advisories and READMEs quoting it out.

rule dlink_xmlset_user_agent {
    meta:
        rule_id = "FP-KNOWN-001"
    strings:
        $key = "xmlset_roodkcableoj28840ybtide\x00"
        $ua = "User-Agent" nocase
    condition:
        ftype == "elf" and $key and $ua
}

rule tenda_w302r_mfg_udp {
    meta:
        rule_id = "FP-KNOWN-002"
    strings:
        $key = "w302r_mfg\x00"
        $recv = "\x00recvfrom\x00"
        $exec1 = "\x00system\x00"
        $exec2 = "\x00popen\x00"
        $exec3 = /\x00exec(l|lp|le|v|vp|ve)\x00/
    condition:
        ftype == "elf" and $key and $recv and any of ($exec*)
}

rule sercomm_scmm_32764 {
    meta:
        rule_id = "FP-KNOWN-003"
    strings:
        $key1 = "ScMM"
        $key2 = "MMcS"
        // the magic built in a register by an inlined 4-byte compare (either byte order):
        // MIPS lui hi / addiu|ori lo, big and little endian; AArch64 movz lo / movk hi
        $key3 = { 3C ?? 53 63 [0-120] ( 24 | 25 | 26 | 27 | 34 | 35 | 36 | 37 ) ?? 4D 4D }
        $key4 = { 3C ?? 4D 4D [0-120] ( 24 | 25 | 26 | 27 | 34 | 35 | 36 | 37 ) ?? 63 53 }
        $key5 = { 63 53 ?? 3C [0-120] 4D 4D ?? ( 24 | 25 | 26 | 27 | 34 | 35 | 36 | 37 ) }
        $key6 = { 4D 4D ?? 3C [0-120] 63 53 ?? ( 24 | 25 | 26 | 27 | 34 | 35 | 36 | 37 ) }
        $key7 = { ( 6? | 7? ) 6A 8C 52 [0-32] ( A? | B? ) A9 A9 72 }
        $key8 = { ( A? | B? ) A9 89 52 [0-32] ( 6? | 7? ) 6C AA 72 }
        $bind = "\x00bind\x00"
        $listen = "\x00listen\x00"
        $accept = "\x00accept\x00"
    condition:
        ftype == "elf" and any of ($key*) and $bind and $listen and $accept
}

rule sercomm_ft_tool_reactivation {
    meta:
        rule_id = "FP-KNOWN-004"
    strings:
        $key1 = "45d1bb339b07a6618b2114dbc0d7783e"
        $key2 = /ft_tool\x00/
        $scfgmgr = "scfgmgr"
        $socket = "\x00socket\x00"
    condition:
        ftype == "elf" and any of ($key*) and $scfgmgr and $socket
}

rule netgear_telnetenable {
    meta:
        rule_id = "FP-KNOWN-005"
    strings:
        $key = /telnetenabled?\x00/
        $telnetd = /u?telnetd/
        $recv1 = "\x00recv\x00"
        $recv2 = "\x00recvfrom\x00"
        $recv3 = "\x00accept\x00"
    condition:
        ftype == "elf" and $key and $telnetd and any of ($recv*)
}

rule juniper_screenos_master_password {
    meta:
        rule_id = "FP-KNOWN-006"
    strings:
        $key = "<<< %s(un='%s') = %u\x00"
    condition:
        $key
}

rule fortinet_fortimanager_access {
    meta:
        rule_id = "FP-KNOWN-007"
    strings:
        $key = "Fortimanager_Access\x00"
        $salt = "FGTAbc11*xy+Qqz27"
    condition:
        $key and $salt
}

rule zyxel_zyfwp_account {
    meta:
        rule_id = "FP-KNOWN-008"
    strings:
        $key = "PrOw!aN_fXp\x00"
        $user = "zyfwp\x00"
    condition:
        $key and $user
}

rule hikvision_auth_magic {
    meta:
        rule_id = "FP-KNOWN-009"
    strings:
        $key = "YWRtaW46MTEK"
        $auth = "auth="
    condition:
        ftype == "elf" and $key and $auth
}

rule xiongmai_9530_open_telnet {
    meta:
        rule_id = "FP-KNOWN-010"
    strings:
        $key = /(Open)?Telnet:OpenOnce\x00/
        $telnetd = "telnetd"
    condition:
        ftype == "elf" and $key and $telnetd
}

rule xiongmai_root_password {
    meta:
        rule_id = "FP-KNOWN-011"
        check = "crypt"
        user = "root"
        passwords = "xc3511 xmhdipc"
    strings:
        $key = /(^|\n)root:[^:\n]{2,}:/
    condition:
        (ftype == "text" or ftype == "script") and $key
}

rule alphanetworks_telnet_account {
    meta:
        rule_id = "FP-KNOWN-012"
    strings:
        $key = /telnetd[^\n]{0,120}-u[ \t]*["']?Alphanetworks:/
    condition:
        (ftype == "script" or ftype == "text" or ftype == "elf") and $key
}

rule zte_root_password {
    meta:
        rule_id = "FP-KNOWN-013"
        check = "crypt"
        user = "root"
        passwords = "Zte521"
    strings:
        $key = /(^|\n)root:[^:\n]{2,}:/
    condition:
        (ftype == "text" or ftype == "script") and $key
}

rule huawei_telecomadmin_account {
    meta:
        rule_id = "FP-KNOWN-014"
    strings:
        $key = /(UserName|User|Name)[ \t]*=[ \t]*"telecomadmin"/ nocase
    condition:
        (ftype == "text" or ftype == "data") and $key
}

rule adups_fota {
    meta:
        rule_id = "FP-KNOWN-015"
    strings:
        $key1 = /"com\.adups\.fota(\.sysoper)?"/
        $key2 = /com\.adups\.fota(\.sysoper)?\x00/
        $key3 = "com.adups.fota" wide
    condition:
        // an APK's binary AndroidManifest.xml (AXML, magic 0x00080003) is read parsed by
        // FP-ANDROID-020, which reports the app itself
        uint32(0) != 0x00080003 and any of ($key*)
}

rule samsung_ril_rfs {
    meta:
        rule_id = "FP-KNOWN-016"
    strings:
        $key = "IPC_RFS_WRITE_FILE\x00"
        $read = "IPC_RFS_READ_FILE\x00"
    condition:
        ftype == "elf" and $key and $read
}

rule allwinner_rootmydevice {
    meta:
        rule_id = "FP-KNOWN-017"
    strings:
        $key = "rootmydevice\x00"
        $sunxi = "sunxi_debug"
    condition:
        $key and $sunxi
}

rule tplink_tddp {
    meta:
        rule_id = "FP-KNOWN-018"
    strings:
        $key = /tddp[A-Za-z_]*Init\x00/ nocase
        $recv = "\x00recvfrom\x00"
    condition:
        ftype == "elf" and $key and $recv
}

rule utt_telnetd_60023 {
    meta:
        rule_id = "FP-KNOWN-019"
    strings:
        $key = /telnetd[^\n]{0,80}-p[ \t]*60023/
    condition:
        (ftype == "script" or ftype == "text") and $key
}
