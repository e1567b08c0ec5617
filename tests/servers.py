"""Real servers for the tests, on loopback only, started and removed by the tests themselves.

- `postgres()`: a PostgreSQL cluster made by Debian's `initdb` in a temporary folder, its
  `postgres` listening on 127.0.0.1 on a free port (and on a unix socket in that folder), with
  trust authentication for loopback and fsync off (a test cluster: nothing to keep). As root,
  initdb refuses to run, so the folder belongs to the `postgres` user the Debian package
  creates and both programs run as that user.
- `dask_cluster()`: a `dask scheduler` and `dask worker` processes, each bound to 127.0.0.1,
  with no dashboard (their HTTP health endpoints, which start anyway, on 127.0.0.1 too).

Every server runs with a parent-death signal (setpriv --pdeathsig), so that a test run that is
killed takes its servers with it. Where PostgreSQL is missing the message says that `make
setup` installs it: the tests fail rather than skip, so that CI proves the store on it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

POSTGRES_BIN = Path("/usr/lib/postgresql")
INITDB = "/usr/lib/postgresql/*/bin/initdb"     # its check in firmproof/data/debian-packages.txt
START_SECONDS = 60


class ServerError(RuntimeError):
    """A test server could not be started: what is missing, or what it said."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the server binding it may still lose a race: retried)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL's bin folder (/usr/lib/postgresql/<major>/bin)."""
    found = sorted((p for p in POSTGRES_BIN.glob("*/bin")
                    if (p / "initdb").is_file() and (p / "postgres").is_file()),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not found:
        from firmproof.host.tools import missing_message

        raise ServerError(f"PostgreSQL's server (no {POSTGRES_BIN}/*/bin/initdb): "
                          + missing_message([INITDB]))
    return found[-1]


def _as_user(user: pwd.struct_passwd | None, signal_name: str) -> list[str]:
    """The setpriv prefix: drop to `user` (when root), and die with the parent."""
    prefix = ["setpriv", f"--pdeathsig={signal_name}"]
    if user is not None:
        prefix[1:1] = [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
    return [*prefix, "--"]


def _server_user() -> pwd.struct_passwd | None:
    """Who runs PostgreSQL: the `postgres` user as root (initdb refuses root), else oneself."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ServerError("the user `postgres` is missing: it comes with Debian's postgresql package, "
                          "which `make setup` installs") from None


@dataclass
class Postgres:
    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    superuser: str = "firmproof"

    @property
    def socket_dir(self) -> Path:
        return self.folder / "socket"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.is_file() else ""

    def connect(self, database: str = "postgres"):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.superuser, dbname=database,
                               autocommit=True, connect_timeout=5)

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _initdb(bindir: Path, folder: Path, user: pwd.struct_passwd | None, superuser: str) -> None:
    data = folder / "data"
    proc = subprocess.run([*_as_user(user, "SIGKILL"), str(bindir / "initdb"), "-D", str(data),
                           "-U", superuser, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync",
                           "--no-instructions"],
                          cwd=folder, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise ServerError(f"initdb failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-800:]}")


def _start(bindir: Path, folder: Path, user: pwd.struct_passwd | None, superuser: str) -> Postgres:
    port = free_port()
    log = (folder / "server.log").open("ab")
    settings = {"listen_addresses": "127.0.0.1", "port": str(port),
                "unix_socket_directories": str(folder / "socket"),
                "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                "max_connections": "100", "shared_buffers": "32MB", "logging_collector": "off"}
    options = [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
    # SIGINT is PostgreSQL's fast shutdown: clients cut, data written, the server gone
    process = subprocess.Popen([*_as_user(user, "SIGINT"), str(bindir / "postgres"),
                                "-D", str(folder / "data"), *options], cwd=folder, stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    server = Postgres(folder=folder, port=port, process=process, superuser=superuser)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"postgres exited ({process.returncode}) on port {port}: {server.log()}")
        try:
            with server.connect():
                return server
        except Exception:
            time.sleep(0.1)
    _stop(process)
    raise ServerError(f"postgres did not accept connections within {START_SECONDS} s: {server.log()}")


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@contextmanager
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server of its own, for as long as the block runs; then stopped and removed."""
    bindir = postgres_bin()
    user = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="fp-pg-"))
    try:
        (folder / "socket").mkdir()
        if user is not None:
            for path in (folder, folder / "socket"):
                os.chown(path, user.pw_uid, user.pw_gid)
        folder.chmod(0o700)
        _initdb(bindir, folder, user, "firmproof")
        for attempt in range(3):        # a free port taken by someone else in between: another one
            try:
                server = _start(bindir, folder, user, "firmproof")
                break
            except ServerError as exc:
                if attempt == 2 or "could not bind" not in str(exc).lower():
                    raise
        try:
            yield server
        finally:
            _stop(server.process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class DaskCluster:
    scheduler: str                        # tcp://127.0.0.1:PORT
    processes: list[subprocess.Popen[bytes]]
    folder: Path


def _dask(*args: str) -> list[str]:
    return [sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]]


@contextmanager
def dask_cluster(workers: int = 2) -> Iterator[DaskCluster]:
    """A dask.distributed scheduler and `workers` single-threaded workers on 127.0.0.1."""
    folder = Path(tempfile.mkdtemp(prefix="fp-dask-"))
    processes: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
           "DASK_TEMPORARY_DIRECTORY": str(folder)}
    try:
        scheduler_file = folder / "scheduler.json"
        with (folder / "scheduler.log").open("ab") as log:
            processes.append(subprocess.Popen(
                [*_as_user(None, "SIGTERM"), *_dask("scheduler", "--host", "127.0.0.1", "--port", "0",
                                                     "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                                                     "--scheduler-file", str(scheduler_file))],
                cwd=folder, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env))
        address = _wait_scheduler(scheduler_file, processes[0], folder)
        for n in range(workers):
            with (folder / f"worker-{n}.log").open("ab") as log:
                processes.append(subprocess.Popen(
                    [*_as_user(None, "SIGTERM"), *_dask("worker", address, "--host", "127.0.0.1",
                                                         "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                                         "--dashboard-address", "127.0.0.1:0",
                                                         "--name", f"worker-{n}", "--death-timeout", "60",
                                                         "--local-directory", str(folder / f"w{n}"))],
                    cwd=folder, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env))
        _wait_workers(address, workers, processes, folder)
        yield DaskCluster(scheduler=address, processes=processes, folder=folder)
    finally:
        for process in reversed(processes):
            with suppress(ProcessLookupError):
                _stop(process, signal.SIGTERM)
        shutil.rmtree(folder, ignore_errors=True)


def _logs(folder: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
                     for p in sorted(folder.glob("*.log")))


def _wait_scheduler(scheduler_file: Path, process: subprocess.Popen[bytes], folder: Path) -> str:
    import json

    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"dask scheduler exited ({process.returncode}): {_logs(folder)}")
        try:
            return str(json.loads(scheduler_file.read_text())["address"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    raise ServerError(f"dask scheduler did not start within {START_SECONDS} s: {_logs(folder)}")


def _wait_workers(address: str, count: int, processes: list[subprocess.Popen[bytes]], folder: Path) -> None:
    from distributed import Client

    with Client(address, timeout=START_SECONDS) as client:
        try:
            client.wait_for_workers(count, timeout=START_SECONDS)
        except TimeoutError:
            raise ServerError(f"dask workers did not all start: {_logs(folder)}") from None
