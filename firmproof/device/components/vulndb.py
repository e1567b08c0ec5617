"""The offline vulnerability database: OSV and NVD JSON 2.0 records in SQLite.

`firmproof vulndb import FILE...` loads records; `scan` reads them, never the network.

Where: `--db PATH`, else `$FIRMPROOF_VULNDB`, else `vulndb.sqlite` in the user's data dir.

What is kept of a record: its id, the CVE ids it is about, a summary, the highest CVSS base
score and its vector, and one row per affected package or CPE with a version range.

- NVD (API 2.0 CVE objects, alone or in a feed's `vulnerabilities` list): each vulnerable
  `cpeMatch` becomes a row keyed by CPE vendor:product, with versionStart/End(Including|Excluding)
  or the exact version of the criteria.
- OSV: each `affected` package becomes rows keyed by package name, one per ECOSYSTEM/SEMVER
  range (introduced → fixed / last_affected) and one per listed version. GIT ranges name
  commits, not versions, and are left out.

Version comparison is univers's: OpenSSL's own scheme for OpenSSL (1.0.1f < 1.0.1g <
1.1.1w < 3.0.2), Alpine's for Alpine ranges, and Debian's ordering (dpkg's algorithm) for
everything else. Debian's ordering is the right default for the versions firmware carries:
it orders digits numerically and letters after the end of a number (2.9 < 2.10, 1.0.2 <
1.0.2k, 1.2.3 < 1.2.3p1, 2019.78 < 2020.81), and an upstream version with no packaging revision
sorts before any distribution's patched build of it (2.75 < 2.75-1ubuntu0.16.04.3), so a
vendor's unpatched 2.75 falls inside a distribution's "fixed in 2.75-1ubuntu0.16.04.3" range,
as it should. PEP 440 (`packaging.version`) rejects most of these strings.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import re
import sqlite3
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ENV = "FIRMPROOF_VULNDB"
CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, cves TEXT NOT NULL, summary TEXT,
    cvss_score REAL, cvss_vector TEXT);
CREATE TABLE IF NOT EXISTS affected (
    record_id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    key TEXT NOT NULL,            -- 'cpe:<vendor>:<product>' or 'pkg:<name>'
    ecosystem TEXT NOT NULL,      -- '' for NVD, the OSV ecosystem otherwise
    exact TEXT, lo TEXT, lo_incl INTEGER, hi TEXT, hi_incl INTEGER);
CREATE INDEX IF NOT EXISTS affected_key ON affected(key);
"""

_configured: Path | None = None


class VulnDBError(Exception):
    """A file cannot be imported or the database cannot be opened: one clear line."""


def configure(path: Path | None) -> None:
    """Use this database for the scans of this process (and the workers it forks)."""
    global _configured
    _configured = path
    lookup.cache_clear()


def default_path() -> Path:
    if _configured is not None:
        return _configured
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    from platformdirs import user_data_path

    return user_data_path("firmproof") / "vulndb.sqlite"


def available(path: Path | None = None) -> bool:
    path = path or default_path()
    return path.is_file() and path.stat().st_size > 0


# -- the rows ----------------------------------------------------------------


@dataclass
class Affected:
    key: str
    ecosystem: str = ""
    exact: str | None = None
    lo: str | None = None
    lo_incl: bool = True
    hi: str | None = None
    hi_incl: bool = False


@dataclass
class Record:
    id: str
    source: str
    cves: list[str]
    summary: str = ""
    cvss_score: float | None = None
    cvss_vector: str | None = None
    affected: list[Affected] = field(default_factory=list)


def _cves(*ids: str) -> list[str]:
    return sorted({m.group(0) for text in ids for m in CVE_ID.finditer(text or "")})


def _score(vector: str) -> float | None:
    """Base score of a CVSS 3.x (or 4.0) vector, computed by the `cvss` library."""
    try:
        if vector.startswith("CVSS:4"):
            from cvss import CVSS4

            return float(CVSS4(vector).base_score)
        if vector.startswith("CVSS:3"):
            from cvss import CVSS3

            return float(CVSS3(vector).scores()[0])
        from cvss import CVSS2

        return float(CVSS2(vector).scores()[0])
    except Exception:
        log.debug("cannot score CVSS vector %r", vector)
        return None


def from_nvd(cve: dict[str, Any]) -> Record:
    """One NVD API 2.0 CVE object."""
    cve_id = str(cve["id"])
    summary = next((d.get("value", "") for d in cve.get("descriptions", []) if d.get("lang") == "en"), "")
    score, vector = None, None
    metrics = cve.get("metrics") or {}
    for name in ("cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"):
        entries = metrics.get(name) or []
        primary = [m for m in entries if m.get("type") == "Primary"] or entries
        if primary:
            data = primary[0].get("cvssData", {})
            score, vector = data.get("baseScore"), data.get("vectorString")
            break
    record = Record(id=cve_id, source="nvd", cves=[cve_id], summary=summary,
                    cvss_score=float(score) if score is not None else None, cvss_vector=vector)
    for configuration in cve.get("configurations") or []:
        for node in configuration.get("nodes") or []:
            for match in node.get("cpeMatch") or []:
                if not match.get("vulnerable"):
                    continue
                parts = str(match.get("criteria", "")).split(":")
                if len(parts) < 6 or parts[2] not in ("a", "o"):
                    continue
                row = Affected(key=f"cpe:{parts[3].lower()}:{parts[4].lower()}")
                version = parts[5]
                ranged = any(k in match for k in ("versionStartIncluding", "versionStartExcluding",
                                                  "versionEndIncluding", "versionEndExcluding"))
                if version not in ("*", "-", "") and not ranged:
                    row.exact = version.replace("\\", "")
                elif ranged:
                    row.lo = match.get("versionStartIncluding") or match.get("versionStartExcluding")
                    row.lo_incl = "versionStartExcluding" not in match
                    row.hi = match.get("versionEndIncluding") or match.get("versionEndExcluding")
                    row.hi_incl = "versionEndIncluding" in match
                else:
                    continue      # every version of the product: too broad to say anything
                record.affected.append(row)
    return record


def from_osv(osv: dict[str, Any]) -> Record:
    """One OSV record."""
    osv_id = str(osv["id"])
    cves = _cves(osv_id, *osv.get("aliases", []))
    if not cves:   # distributions put the CVE they track in `related` (UBUNTU-CVE-…, DEBIAN-CVE-…)
        cves = [c for c in _cves(*osv.get("related", [])) if c in osv_id] or _cves(*osv.get("upstream", []))
    vectors = [s.get("score", "") for s in osv.get("severity", [])
               if str(s.get("type", "")).startswith("CVSS")]
    scored = [(s, v) for v in vectors if (s := _score(v)) is not None]
    score, vector = max(scored) if scored else (None, vectors[0] if vectors else None)
    record = Record(id=osv_id, source="osv", cves=cves, summary=osv.get("summary") or osv.get("details", ""),
                    cvss_score=score, cvss_vector=vector)
    for affected in [] if osv.get("withdrawn") else osv.get("affected") or []:
        package = affected.get("package") or {}
        name = str(package.get("name", "")).lower()
        if not name:
            continue
        ecosystem = str(package.get("ecosystem", ""))
        key = f"pkg:{name}"
        for version in affected.get("versions") or []:
            record.affected.append(Affected(key=key, ecosystem=ecosystem, exact=str(version)))
        for rng in affected.get("ranges") or []:
            if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue
            lo: str | None = None
            for event in rng.get("events") or []:
                if "introduced" in event:
                    lo = None if event["introduced"] == "0" else str(event["introduced"])
                elif "fixed" in event:
                    record.affected.append(Affected(key, ecosystem, lo=lo, hi=str(event["fixed"])))
                    lo = None
                elif "last_affected" in event:
                    record.affected.append(Affected(key, ecosystem, lo=lo, hi=str(event["last_affected"]),
                                                    hi_incl=True))
                    lo = None
            if lo is not None or (rng.get("events") and list(rng["events"][-1]) == ["introduced"]):
                record.affected.append(Affected(key, ecosystem, lo=lo))
    return record


# -- reading files -----------------------------------------------------------


def _documents(name: str, data: bytes) -> Iterator[tuple[str, Any]]:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in sorted(archive.namelist()):
                if member.endswith((".json", ".json.gz")):
                    yield from _documents(f"{name}!{member}", archive.read(member))
        return
    try:
        yield name, json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VulnDBError(f"{name}: not JSON ({exc})") from None


def records(name: str, doc: Any) -> Iterator[Record]:
    """Every record in one JSON document: OSV records, NVD CVE objects, NVD 2.0 feeds, lists."""
    if isinstance(doc, list):
        for item in doc:
            yield from records(name, item)
        return
    if not isinstance(doc, dict):
        raise VulnDBError(f"{name}: neither an OSV record nor an NVD CVE record")
    if isinstance(doc.get("vulnerabilities"), list):
        for item in doc["vulnerabilities"]:
            yield from records(name, item.get("cve", item) if isinstance(item, dict) else item)
        return
    if isinstance(doc.get("cve"), dict):
        yield from records(name, doc["cve"])
        return
    if "id" in doc and ("affected" in doc or "schema_version" in doc or "modified" in doc):
        yield from_osv(doc)
        return
    if "id" in doc and ("configurations" in doc or "descriptions" in doc):
        yield from_nvd(doc)
        return
    raise VulnDBError(f"{name}: neither an OSV record nor an NVD CVE record")


def read_records(path: Path) -> list[Record]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise VulnDBError(f"{path}: cannot read: {exc.strerror or exc}") from None
    out: list[Record] = []
    try:
        for name, doc in _documents(str(path), data):
            out.extend(records(name, doc))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise VulnDBError(f"{path}: cannot read: {exc}") from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, VulnDBError):
            raise
        raise VulnDBError(f"{path}: malformed record ({type(exc).__name__}: {exc})") from None
    return out


# -- the database ------------------------------------------------------------


def connect(path: Path, *, create: bool = False) -> sqlite3.Connection:
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path)
            conn.executescript(SCHEMA)
        else:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        return conn
    except (OSError, sqlite3.Error) as exc:
        raise VulnDBError(f"{path}: cannot open the vulnerability database: {exc}") from None


def import_files(paths: Iterable[Path], db: Path) -> tuple[int, int]:
    """Load the records of `paths` into `db` (a record imported again replaces the old one).
    Returns (records, affected rows)."""
    loaded = [r for p in paths for r in read_records(p)]
    conn = connect(db, create=True)
    rows = 0
    try:
        with conn:
            for record in loaded:
                conn.execute("DELETE FROM affected WHERE record_id = ?", (record.id,))
                conn.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?)",
                             (record.id, record.source, json.dumps(record.cves), record.summary,
                              record.cvss_score, record.cvss_vector))
                conn.executemany("INSERT INTO affected VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
                    (record.id, a.key, a.ecosystem, a.exact, a.lo, int(a.lo_incl), a.hi, int(a.hi_incl))
                    for a in record.affected])
                rows += len(record.affected)
    except sqlite3.Error as exc:
        raise VulnDBError(f"{db}: cannot write: {exc}") from None
    finally:
        conn.close()
    lookup.cache_clear()
    return len(loaded), rows


# -- matching ----------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    id: str
    cves: tuple[str, ...]
    cvss_score: float | None
    cvss_vector: str | None


def _version(text: str, scheme: str) -> Any:
    from univers.versions import AlpineLinuxVersion, DebianVersion, OpensslVersion

    cls = {"openssl": OpensslVersion, "alpine": AlpineLinuxVersion}.get(scheme, DebianVersion)
    if cls is not DebianVersion and not cls.is_valid(text):
        cls = DebianVersion
    return cls(text)


def _scheme(key: str, ecosystem: str) -> str:
    if ecosystem.lower().startswith("alpine"):
        return "alpine"
    if key in ("cpe:openssl:openssl", "pkg:openssl") and not ecosystem:
        return "openssl"
    return "debian"


def in_range(version: str, row: tuple[str, str, str | None, str | None, int, str | None, int]) -> bool:
    key, ecosystem, exact, lo, lo_incl, hi, hi_incl = row
    scheme = _scheme(key, ecosystem)
    try:
        v = _version(version, scheme)
        if exact is not None:
            return bool(v == _version(exact, scheme))
        if lo is not None:
            low = _version(lo, scheme)
            if v < low or (v == low and not lo_incl):
                return False
        if hi is not None:
            high = _version(hi, scheme)
            if v > high or (v == high and not hi_incl):
                return False
        return True
    except Exception:
        log.debug("cannot compare %r with %r", version, row)
        return False


@cache
def lookup(keys: tuple[str, ...], version: str) -> tuple[Match, ...]:
    """Records whose affected rows under any of `keys` contain `version`."""
    path = default_path()
    if not available(path):
        return ()
    conn = connect(path)
    try:
        marks = ",".join("?" * len(keys))
        rows = conn.execute(
            f"SELECT a.record_id, a.key, a.ecosystem, a.exact, a.lo, a.lo_incl, a.hi, a.hi_incl, "  # noqa: S608
            f"r.cves, r.cvss_score, r.cvss_vector FROM affected a JOIN records r ON r.id = a.record_id "
            f"WHERE a.key IN ({marks}) ORDER BY a.record_id", keys).fetchall()
    except sqlite3.Error as exc:
        raise VulnDBError(f"{path}: cannot read the vulnerability database: {exc}") from None
    finally:
        conn.close()
    found: dict[str, Match] = {}
    for record_id, *row, cves, score, vector in rows:
        if record_id not in found and in_range(version, tuple(row)):  # type: ignore[arg-type]
            found[record_id] = Match(record_id, tuple(json.loads(cves)), score, vector)
    return tuple(found.values())


def stats(path: Path) -> dict[str, int]:
    conn = connect(path)
    try:
        rows = conn.execute("SELECT source, count(*) FROM records GROUP BY source")
        return {source: n for source, n in rows}
    finally:
        conn.close()
