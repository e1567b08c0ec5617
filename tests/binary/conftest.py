"""The C programs of tests/binary/src, compiled once per session with real (cross) compilers
from Debian, at -O0 and -O2, each also stripped."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import firmproof, need_tools

SRC = Path(__file__).resolve().parent / "src"
# toolchain -> (compiler, strip, arch, endian) as the model reports them
TOOLCHAINS = {
    "mipsel": ("mipsel-linux-gnu-gcc", "mipsel-linux-gnu-strip", "mips", "little"),
    "mips": ("mips-linux-gnu-gcc", "mips-linux-gnu-strip", "mips", "big"),
    "arm": ("arm-linux-gnueabi-gcc", "arm-linux-gnueabi-strip", "arm", "little"),
    "aarch64": ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-strip", "aarch64", "little"),
    "x86-64": ("gcc", "strip", "x86-64", "little"),
}
OPTS = ("-O0", "-O2")
PROGRAMS = tuple(sorted(p.stem for p in SRC.glob("*.c")))


@dataclass(frozen=True)
class Build:
    program: str
    toolchain: str
    opt: str
    stripped: bool
    data: bytes

    @property
    def name(self) -> str:
        return f"{self.program}.{self.toolchain}{self.opt}{'.stripped' if self.stripped else ''}"


def _compile(out_dir: Path, program: str, toolchain: str, opt: str) -> list[Build]:
    cc, strip, _, _ = TOOLCHAINS[toolchain]
    out = out_dir / f"{program}.{toolchain}{opt}"
    subprocess.run([cc, opt, "-o", str(out), str(SRC / f"{program}.c")], check=True,
                   capture_output=True)
    stripped = out.with_name(out.name + ".stripped")
    subprocess.run([strip, "-o", str(stripped), str(out)], check=True, capture_output=True)
    return [Build(program, toolchain, opt, False, out.read_bytes()),
            Build(program, toolchain, opt, True, stripped.read_bytes())]


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str, bool], Build]:
    """Every program × toolchain × optimisation level × stripped or not."""
    need_tools(*(t[0] for t in TOOLCHAINS.values()), *(t[1] for t in TOOLCHAINS.values()))
    out_dir = tmp_path_factory.mktemp("binary-builds")
    jobs = [(p, t, o) for p in PROGRAMS for t in TOOLCHAINS for o in OPTS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: _compile(out_dir, *job), jobs))
    return {(b.program, b.toolchain, b.opt, b.stripped): b for group in results for b in group}


VARIANTS = [(t, o, s) for t in TOOLCHAINS for o in OPTS for s in (False, True)]


def variant_id(variant: tuple[str, str, bool]) -> str:
    toolchain, opt, stripped = variant
    return f"{toolchain}{opt}{'-stripped' if stripped else ''}"


def gcc_build(tmp_path: Path, source: str, *flags: str) -> bytes:
    """A native program from C source text, with the given compiler flags."""
    need_tools("gcc")
    c = tmp_path / "prog.c"
    c.write_text(source)
    out = tmp_path / "prog"
    subprocess.run(["gcc", *flags, "-o", str(out), str(c)], check=True, capture_output=True)
    return out.read_bytes()


def cross_build(tmp_path: Path, toolchain: str, source: Path, *flags: str) -> bytes:
    """One program from a C or assembly file, by a toolchain of TOOLCHAINS, with extra flags."""
    cc = TOOLCHAINS[toolchain][0]
    need_tools(cc)
    out = tmp_path / f"{source.stem}.{toolchain}"
    subprocess.run([cc, *flags, "-o", str(out), str(source)], check=True, capture_output=True)
    return out.read_bytes()


@pytest.fixture(scope="session")
def static_build(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str, str], Path]:
    """program, toolchain, -O level -> a program of src/ linked static and stripped by one of the
    variants' toolchains (x86-64 gcc and musl-gcc, mipsel, mips, armel, aarch64, i686), built
    once per session."""
    from tests.variants.families.compiled import TOOLCHAINS as STATIC_TOOLCHAINS

    out_dir = tmp_path_factory.mktemp("static-builds")
    built: dict[tuple[str, str, str], Path] = {}

    def build(program: str, toolchain: str, opt: str) -> Path:
        key = (program, toolchain, opt)
        if key not in built:
            cc = STATIC_TOOLCHAINS[toolchain][0]
            need_tools(cc)
            out = out_dir / f"{program}.{toolchain}{opt}"
            subprocess.run([cc, opt, "-static", "-s", "-o", str(out), str(SRC / f"{program}.c")], check=True,
                           capture_output=True)
            built[key] = out
        return built[key]

    return build


def unpacked_evidence(finding: dict, packed: Path, tmp_path: Path) -> bytes:
    """The bytes a report's finding names in the program `upx -d` gives back for `packed`, whose
    sha256 its evidence must hold (not the packed file's)."""
    unpacked = tmp_path / (packed.name + ".elf")
    subprocess.run(["upx", "-q", "-d", "-f", "-o", str(unpacked), str(packed)], check=True,
                   capture_output=True)
    data = unpacked.read_bytes()
    evidence = finding["evidence"]
    assert evidence["sha256"] == hashlib.sha256(data).hexdigest()
    assert evidence["sha256"] != hashlib.sha256(packed.read_bytes()).hexdigest()
    return data[evidence["offset"]:evidence["offset"] + evidence["length"]]


def verify_holds(report: dict, image: Path, tmp_path: Path) -> None:
    """`firmproof verify` of the report against its image: every finding holds."""
    (tmp_path / "verified.json").write_text(json.dumps(report))
    proc = firmproof("verify", tmp_path / "verified.json", image, "--json")
    assert proc.returncode == 0, proc.stderr
    verdict = json.loads(proc.stdout)
    assert verdict["holds"] and verdict["held"] == verdict["total"] == len(report["findings"])
