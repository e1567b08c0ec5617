"""What an upload costs `firmproof serve`: the time to send an image of N MiB to `POST
/api/uploads` over loopback, and the server's peak resident memory before and after (the body
is streamed to the data folder, so the peak should not grow with the image).

    python bench/uploads.py [--mib 512] [--runs 3]

The real `firmproof serve` on 127.0.0.1 (a free port) over an empty store in a temporary folder,
with that folder as its --data-dir and an upload limit above N. Each run sends N MiB of random
bytes (new bytes each run, a new image each time) from a generator, 1 MiB at a time, without a
Content-Length (as a large streamed upload goes); the server is stopped after the last, which
also stops the scan of the random bytes it had begun. Nothing is sent anywhere but loopback.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

CHUNK = 1 << 20


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def body(boundary: str, mib: int) -> Iterator[bytes]:
    yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\n'
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    for _ in range(mib):
        yield os.urandom(CHUNK)
    yield f"\r\n--{boundary}--\r\n".encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="firmproof-bench-uploads-") as tmp:
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "firmproof.cli", "serve",
                                   "--db", f"sqlite:///{tmp}/store.sqlite", "--host", "127.0.0.1",
                                   "--port", str(port), "--data-dir", f"{tmp}/data",
                                   "--upload-limit", f"{args.mib + 1}M"])
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/api/openapi.json", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            before = peak_rss_mib(server.pid)
            seconds = []
            for _ in range(args.runs):
                boundary = secrets.token_hex(12)
                started = time.monotonic()
                answer = httpx.post(f"{base}/api/uploads", content=body(boundary, args.mib), timeout=3600,
                                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
                seconds.append(time.monotonic() - started)
                if answer.status_code != 202:
                    raise SystemExit(f"upload refused: {answer.status_code} {answer.text}")
            after = peak_rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
    best, median = min(seconds), statistics.median(seconds)
    print(f"{args.mib} MiB x {args.runs}: best {best:.1f} s ({args.mib / best:.0f} MiB/s), "
          f"median {median:.1f} s ({args.mib / median:.0f} MiB/s)")
    print(f"server peak RSS: {before:.0f} MiB before, {after:.0f} MiB after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
