"""The analysis engine: big views in forked workers give exactly what the parent would."""

from __future__ import annotations

import os
from collections.abc import Iterator

from firmproof.analyzers.base import Analyzer
from firmproof.analyzers.registry import analyzers
from firmproof.analyzers.schedule import BIG_VIEW, Analysis, groups, shard
from firmproof.device import binary
from firmproof.device.components import identify, merge
from firmproof.fs.index import index_tree
from firmproof.fs.rootfs import RootFS
from firmproof.model import Finding
from firmproof.testing.demo import DECOYS, PLANTS, build_rootfs


def big_view(tmp_path) -> RootFS:
    tree = build_rootfs(tmp_path / "root", PLANTS, DECOYS)
    for i in range(BIG_VIEW):
        (tree / "usr/share").mkdir(parents=True, exist_ok=True)
        (tree / "usr/share" / f"doc{i}.txt").write_text(f"document {i}\n")
    (view,) = index_tree(tree, None, ("fw.bin", "squashfs@0x0")).views
    assert len(view) >= BIG_VIEW
    return view


def test_workers_find_exactly_what_the_parent_finds(tmp_path):
    view = big_view(tmp_path)
    inline = Analysis(workers=1)
    inline.add([view])
    forked = Analysis(workers=2)
    forked.add([view])
    assert forked._running or forked._pending          # the big view did go to workers
    found = forked.finish()
    assert found == inline.finish() and len(found) >= len(PLANTS)
    assert forked.errors == inline.errors == []


class Explodes(Analyzer):
    family = "TEST"
    name = "explodes"
    rules = ()

    def run(self, fs: RootFS) -> Iterator[Finding]:
        raise RuntimeError("parser gave up")
        yield


class Dies(Analyzer):
    family = "TEST"
    name = "dies"
    rules = ()

    def run(self, fs: RootFS) -> Iterator[Finding]:
        os._exit(3)
        yield


def test_a_failing_or_dying_analyzer_is_an_error_entry_and_the_rest_goes_on(tmp_path):
    view = big_view(tmp_path)
    analysis = Analysis(workers=2, family=(Explodes(), Dies(), *analyzers()))
    analysis.add([view])
    found = analysis.finish()
    assert len(found) >= len(PLANTS)
    by_name = {e.analyzer: e.error for e in analysis.errors}
    assert by_name["explodes"] == "RuntimeError: parser gave up"
    assert by_name["dies"] == "analyzer process died (exit code 3)"
    assert all(e.path == "squashfs@0x0" for e in analysis.errors)


def test_analyzers_sharing_a_cache_run_in_one_task_with_the_components(tmp_path):
    view = big_view(tmp_path)
    tasks = groups(analyzers(), view, True)
    shared = {tuple(a.name for a in group): with_components for group, with_components in tasks}
    assert shared[("hardening", "hardcoded", "triggers")] is False
    assert shared[("vulnerabilities",)] is True              # reads the components it is given
    assert sum(1 for _group, with_components in tasks if with_components) == 1
    forked = Analysis(workers=2, components=True)
    forked.add([view])
    inline = Analysis(workers=1, components=True)
    inline.add([view])
    assert forked.finish() == inline.finish()
    assert merge(forked.found) == merge(inline.found) == identify(view)


def test_a_family_that_visits_files_is_split_over_the_workers_and_joined(tmp_path):
    """The binary families read each ELF on its own: their work on a big view goes to every
    worker in shards, and FP-ELF's summary of the shards is the summary of the view."""
    view = big_view(tmp_path)
    forked = Analysis(workers=2)
    forked.add([view])
    shards = [t for t in [*forked._pending, *forked._running] if t.part is not None]
    assert sorted(t.part for t in shards) == [(0, 2), (1, 2)]
    assert {tuple(a.name for a in t.group) for t in shards} == {("hardening", "hardcoded", "triggers")}
    found = forked.finish()
    inline = Analysis(workers=1)
    inline.add([view])
    assert found == inline.finish()
    summaries = [f for f in found if f.rule.id == "FP-ELF-001"]
    assert len(summaries) == 1
    programs = [e for e in view.files("elf") if (b := binary.load(view, e.path)) and b.headers.is_program]
    assert summaries[0].details["checked"] == len(programs) > 1


def test_shards_cover_every_file_once_and_balance_the_bytes(tmp_path):
    view = big_view(tmp_path)
    files = {e.path: e.size for e in view.files()}
    parts = [shard(view, (), i, 3) for i in range(3)]
    assert sorted(p for part in parts for p in part) == sorted(files)
    loads = [sum(files[p] + 4096 for p in part) for part in parts]      # 4 kB: a parse's fixed cost
    assert max(loads) - min(loads) <= max(files.values()) + 4096


def test_a_part_lists_its_own_files_but_sees_the_whole_view():
    view = RootFS.from_files({"/bin/a": b"A", "/bin/b": b"B", "/etc/passwd": b"root::0:0::/:/bin/sh\n"},
                             links={"/bin/sh": "/bin/a"})
    part = view.part(["/bin/b"])
    assert [e.path for e in part.files()] == ["/bin/b"]
    assert part.read("/etc/passwd") == view.read("/etc/passwd") and part.read("/bin/sh") == b"A"
    assert len(part) == len(view) and [e.path for e in view.files()] == ["/bin/a", "/bin/b", "/etc/passwd"]


def test_small_views_wait_for_an_idle_moment_and_none_is_lost():
    plant = RootFS.from_files({"/etc/shadow": "root::0:0:99999:7:::\n",
                               "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"}, container=("fw", "tar@0x0"))
    analysis = Analysis(workers=2)
    analysis.add([plant])
    assert analysis.findings == []                  # queued: the process was not idle yet
    analysis.idle()                                 # e.g. while an extraction child works
    assert {f.rule.id for f in analysis.findings} >= {"FP-CRED-001"}
    late = RootFS.from_files({"/etc/shadow": "admin::0:0:99999:7:::\n",
                              "/etc/passwd": "admin:x:0:0::/:/bin/sh\n"}, container=("fw", "tar@0x9"))
    analysis.add([late])
    found = analysis.finish()                       # what is still queued is analysed at the end
    assert {f.container[-1] for f in found if f.rule.id == "FP-CRED-001"} == {"tar@0x0", "tar@0x9"}


def _rule(rule_id: str):
    return next(r for a in analyzers() for r in a.rules if r.id == rule_id)


def test_two_rules_on_the_same_bytes_are_one_finding_naming_the_other():
    """A known-backdoor signature inside the line a credential rule quotes: one finding per
    place and cause (the known backdoor, at equal severity), the other rule named in it; a
    finding elsewhere in the file and whole-file findings stay."""
    from firmproof.analyzers.schedule import dedupe

    line = b"telnetd -l /usr/sbin/login -u Alphanetworks:$image_sign -i br0 &\n"
    fs = RootFS.from_files({"/etc/init0.d/S80telnetd.sh": b"#!/bin/sh\n" + line + b"telnetd &\n"})
    path, at = "/etc/init0.d/S80telnetd.sh", 10
    cred = _rule("FP-CRED-006").at(fs, path, at, len(line) - 1)
    known = _rule("FP-KNOWN-012").at(fs, path, at, len(b"telnetd -l /usr/sbin/login -u Alphanetworks:"))
    other = _rule("FP-SVC-002").at(fs, path, at + len(line), len(b"telnetd &"))
    hardening = _rule("FP-ELF-001").at(fs, path, 0, 10)
    kept = dedupe([cred, known, other, hardening, cred])
    assert sorted(f.rule.id for f in kept) == ["FP-ELF-001", "FP-KNOWN-012", "FP-SVC-002"]
    (merged,) = [f for f in kept if f.rule.id == "FP-KNOWN-012"]
    assert merged.details["also"] == ["FP-CRED-006"]
    assert "also" not in next(f for f in kept if f.rule.id == "FP-SVC-002").details


def _device_scan(rcs: str, part_files: dict[str, str]) -> list[Finding]:
    root = RootFS.from_files({"/etc/inittab": "::sysinit:/etc/init.d/rcS\n",
                              "/etc/init.d/rcS": "#!/bin/sh\n" + rcs,
                              "/etc/passwd": "root:x:0:0::/root:/bin/sh\n",
                              "/etc/shadow": "root:*:19000:0:99999:7:::\n",
                              "/usr/sbin/telnetd": b"\x7fELF telnetd", "/sbin/syslogd": b"\x7fELF"},
                             container=("flash.bin", "squashfs@0x0"))
    part = RootFS.from_files(part_files, container=("flash.bin", "jffs2@0x100000"))
    part.is_root = False
    analysis = Analysis(workers=1)
    analysis.add([root])
    analysis.add([part])
    return analysis.finish()


def test_a_script_of_a_mounted_partition_is_read_as_part_of_the_boot_chain():
    shell = "#!/bin/sh\n/usr/sbin/telnetd -l /bin/sh -p 9527 &\n"
    found = _device_scan("mount -t jffs2 /dev/mtdblock4 /mnt/custom\n/mnt/custom/extapp.sh &\n",
                         {"/extapp.sh": shell})
    shells = [f for f in found if f.category.value == "service.remote-shell"]
    assert [(f.container, f.path) for f in shells] == [(("flash.bin", "jffs2@0x100000"), "/extapp.sh")]
    assert shells[0].details.get("reached") is not False
    # beside a root that neither mounts nor runs it, the script runs on no device
    found = _device_scan("mount -a\n", {"/extapp.sh": shell})
    assert not [f for f in found if f.category.value == "service.remote-shell"]


def test_an_account_database_copied_into_etc_at_boot_is_read_where_it_lies():
    found = _device_scan("mount -t jffs2 /dev/mtdblock4 /mnt/config\n"
                         "cp /mnt/config/users.db /etc/passwd\n",
                         {"/users.db": "root::0:0::/root:/bin/sh\n"})
    weak = [(f.container, f.path) for f in found if f.category.value == "credential.weak-password"]
    assert weak == [(("flash.bin", "jffs2@0x100000"), "/users.db")]


def test_a_big_views_boot_chain_is_walked_once_in_the_parent_and_shared_by_the_workers(tmp_path, monkeypatch):
    from firmproof.device import bootchain

    view = big_view(tmp_path)
    parent, real, walked = os.getpid(), bootchain._walk, []

    def walk_in_the_parent_only(fs):
        if os.getpid() != parent:
            raise AssertionError("a worker walked the boot chain again")
        walked.append(fs)
        return real(fs)

    monkeypatch.setattr(bootchain, "_walk", walk_in_the_parent_only)
    forked = Analysis(workers=2)
    forked.add([view])
    found = forked.finish()
    assert forked.errors == [] and walked == [view]
    monkeypatch.setattr(bootchain, "_walk", real)
    del bootchain._WALKED[view]
    inline = Analysis(workers=1)
    inline.add([view])
    assert found == inline.finish()
