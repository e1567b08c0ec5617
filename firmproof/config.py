"""The one place that knows defaults and limits."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from firmproof.model import Severity

GiB = 1024 ** 3
CONTAINERS_FLOOR = 1000       # containers any image may unpack …
CONTAINER_BYTES = 8 * 1024    # … or one per this many bytes of image, where that is more
MIN_EXAMINED = 0.9     # share of the image's non-filler bytes that unpacked containers must
                       # cover for a scan to be complete (see firmproof/report/coverage.py)
MAX_VEX_BYTES = 64 * 1024 ** 2   # one VEX document read by `scan --vex`


@dataclass(frozen=True)
class Limits:
    """Bounds on unpacking; every breach is reported in `unpack.errors`."""

    max_depth: int = 8                 # nested containers below the image
    max_bytes: int = 8 * GiB           # total bytes extracted (unblob has no zip-bomb limit)
    max_ratio: int = 200               # extracted bytes per byte of image, whichever is smaller
    max_files: int = 500_000           # entries extracted
    max_seconds: float = 1800.0        # wall time for the whole unpacking
    max_memory: int = 8 * GiB          # address space of each extraction child and its extractors
    max_containers: int | None = None  # containers unpacked; None: CONTAINERS_FLOOR, or one per
                                       # CONTAINER_BYTES of image (see container_budget)
    carve_min_size: int = 512          # smaller unknown blobs are not searched for containers

    def byte_budget(self, image_size: int) -> int:
        return min(self.max_bytes, max(image_size * self.max_ratio, 64 * 1024 * 1024))

    def container_budget(self, image_size: int) -> int:
        """Containers this image may unpack. Honest firmware nests few, big containers (a
        64 MB router image holds tens, an Android system image a few hundred APKs); thousands
        of distinct little archives nested in a few megabytes is a bomb, each one costing an
        extraction. By default: 1,000, or one per 8 KiB of image where that is more."""
        if self.max_containers is not None:
            return self.max_containers
        return max(CONTAINERS_FLOOR, image_size // CONTAINER_BYTES)


@dataclass(frozen=True)
class ScanConfig:
    image: Path
    workdir: Path | None = None        # None: a temporary directory, removed afterwards
    keep_workdir: bool = False
    limits: Limits = field(default_factory=Limits)
    vendor: str | None = None
    product: str | None = None
    version: str | None = None
    fail_on: Severity | None = None
    progress: bool = False
    min_examined: float = MIN_EXAMINED


class ConfigError(Exception):
    """The configuration file cannot be read or holds a wrong setting (exit code 2)."""


def parse_size(text: str | int) -> int:
    """'8G', '512 MiB', '4096' -> bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is no size")
    units = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
    value = text.strip().lower().removesuffix("ib").removesuffix("b").strip()
    try:
        if value and value[-1] in units:
            return int(float(value[:-1]) * units[value[-1]])
        return int(value)
    except ValueError:
        raise ValueError(f"{text!r} is no size (e.g. 4096, 512M, 8G)") from None


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is no count")
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{value!r} is no number of seconds")
    return float(value)


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{value!r} is no share between 0 and 1")
    return float(value)


# the settings a configuration file may hold: [limits] name -> (Limits field, parser), and [scan]
LIMIT_SETTINGS = {"max_depth": ("max_depth", _count), "max_bytes": ("max_bytes", parse_size),
                  "max_ratio": ("max_ratio", _count), "max_files": ("max_files", _count),
                  "timeout": ("max_seconds", _seconds), "max_memory": ("max_memory", parse_size),
                  "max_containers": ("max_containers", _count)}
SCAN_SETTINGS = {"min_examined": _share}
CONFIG_ENV = "FIRMPROOF_CONFIG"


def config_path(given: Path | None = None) -> Path | None:
    """The configuration file: `given` (--config), else $FIRMPROOF_CONFIG, else the user's
    config folder's firmproof/config.toml when it exists; None when there is none."""
    if given is not None:
        return given
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    from platformdirs import user_config_path

    default = user_config_path("firmproof") / "config.toml"
    return default if default.is_file() else None


@dataclass(frozen=True)
class Settings:
    """What a configuration file sets; the command line's flags override it."""

    limits: Limits = field(default_factory=Limits)
    min_examined: float = MIN_EXAMINED
    source: Path | None = None


def load_settings(path: Path | None) -> Settings:
    """Read a TOML configuration file:

        [limits]
        max_bytes = "16G"      # also max_depth, max_ratio, max_files, max_containers, timeout,
                               # max_memory
        [scan]
        min_examined = 0.95
    """
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not TOML ({exc})") from None
    unknown = sorted(set(data) - {"limits", "scan"})
    if unknown:
        raise ConfigError(f"{path}: unknown section [{unknown[0]}] (known: [limits], [scan])")
    limits: dict[str, Any] = {}
    scan: dict[str, Any] = {}
    for section, known, out in (("limits", LIMIT_SETTINGS, limits), ("scan", SCAN_SETTINGS, scan)):
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{section}] is not a table")
        for key, value in table.items():
            if key not in known:
                raise ConfigError(f"{path}: [{section}] {key}: unknown setting "
                                  f"(known: {', '.join(sorted(known))})")
            spec = known[key]
            name, parse = spec if isinstance(spec, tuple) else (key, spec)
            try:
                out[name] = parse(value)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"{path}: [{section}] {key}: {exc}") from None
    return Settings(limits=replace(Limits(), **limits), source=path,
                    **({"min_examined": scan["min_examined"]} if "min_examined" in scan else {}))


def override(limits: Limits, **given: Any) -> Limits:
    """`limits` with the values given on the command line (None: not given)."""
    names = {f.name for f in fields(Limits)}
    return replace(limits, **{k: v for k, v in given.items() if v is not None and k in names})
