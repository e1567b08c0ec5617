from __future__ import annotations

from firmproof.device.parsers.cron import parse_crontab

SYSTEM = """SHELL=/bin/sh
# m h dom mon dow user command
17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly
@reboot root /usr/bin/nc -l -p 4444 -e /bin/sh
*/5 * * * * root echo hi % stdin
"""


def test_system_crontab():
    entries = parse_crontab(SYSTEM, system=True)
    assert [(e.schedule, e.user, e.command) for e in entries] == [
        ("17 * * * *", "root", "cd / && run-parts --report /etc/cron.hourly"),
        ("@reboot", "root", "/usr/bin/nc -l -p 4444 -e /bin/sh"),
        ("*/5 * * * *", "root", "echo hi"),
    ]
    reboot = entries[1]
    assert reboot.at_boot
    assert SYSTEM[reboot.command_start:reboot.command_end] == "/usr/bin/nc -l -p 4444 -e /bin/sh"
    assert SYSTEM[reboot.start:reboot.end] == "@reboot root /usr/bin/nc -l -p 4444 -e /bin/sh"


def test_user_crontab_has_no_user_field():
    (entry,) = parse_crontab("*/1 * * * * /tmp/x.sh\nbad\n", system=False)
    assert entry.user is None and entry.command == "/tmp/x.sh"
