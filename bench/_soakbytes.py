"""`bench/soak.py --bytes`: one large upload and one large download, peak RSS sampled.

Contract: `transfer(host, port, host_header, pid, size)` sends one `size`-byte POST
(Content-Length, the test bed's `echo.PATTERN` repeated, written a piece at a time)
and then one `size`-byte GET (`/__download?bytes=<size>` from the soak upstream,
hashed as it arrives) through the gateway on fresh connections, while a thread
samples the gateway's RSS every 50 ms. Each returns a `Transfer`: whether the bytes
arrived whole (the upstream's count and SHA-256 of the upload, the client's of the
download, against the test bed's `pattern_sha256`), the seconds it took, and the RSS before and at
peak.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import threading
import time
from dataclasses import dataclass

from _servers import ROOT, rss_mb

sys.path.insert(0, str(ROOT))
from tests.testbed.echo import pattern_pieces, pattern_sha256  # noqa: E402

READ = 256 * 1024


@dataclass(frozen=True)
class Transfer:
    what: str
    size: int
    intact: bool
    detail: str
    seconds: float
    rss_before_mb: float
    rss_peak_mb: float

    @property
    def growth_mb(self) -> float:
        return self.rss_peak_mb - self.rss_before_mb


class PeakRss:
    """The largest RSS (MB) of the gateway seen while `with` runs, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = self.peak = rss_mb(pid)["total"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb(self.pid)["total"])

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid)["total"])


async def _head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    fields = dict(line.partition(":")[::2] for line in lines[1:] if line)
    return int(lines[0].split()[1]), {k.strip().lower(): v.strip() for k, v in fields.items()}


async def upload(host: str, port: int, host_header: str, size: int) -> tuple[bool, str]:
    reader, writer = await asyncio.open_connection(host, port, limit=READ)
    try:
        writer.write(f"POST /soak/upload HTTP/1.1\r\nHost: {host_header}\r\n"
                     f"Content-Length: {size}\r\nConnection: close\r\n\r\n".encode())
        for piece in pattern_pieces(size):
            writer.write(piece)
            await writer.drain()
        status, fields = await _head(reader)
        body = json.loads(await reader.readexactly(int(fields["content-length"])))
    finally:
        writer.close()
    intact = (status == 200 and body["body_bytes"] == size
              and body["body_sha256"] == pattern_sha256(size))
    return intact, f"{status}, upstream counted {body.get('body_bytes')} bytes"


async def download(host: str, port: int, host_header: str, size: int) -> tuple[bool, str]:
    reader, writer = await asyncio.open_connection(host, port, limit=READ)
    digest, received = hashlib.sha256(), 0
    try:
        writer.write(f"GET /__download?bytes={size} HTTP/1.1\r\nHost: {host_header}\r\n"
                     "Connection: close\r\n\r\n".encode())
        status, fields = await _head(reader)
        while piece := await reader.read(READ):
            digest.update(piece)
            received += len(piece)
    finally:
        writer.close()
    intact = status == 200 and received == size and digest.hexdigest() == pattern_sha256(size)
    return intact, f"{status}, Content-Length {fields.get('content-length')}, received {received}"


def transfer(host: str, port: int, host_header: str, pid: int, size: int) -> list[Transfer]:
    results = []
    for what, run in (("upload", upload), ("download", download)):
        started = time.monotonic()
        with PeakRss(pid) as rss:
            intact, detail = asyncio.run(run(host, port, host_header, size))
        results.append(Transfer(what, size, intact, detail, time.monotonic() - started,
                                rss.before, rss.peak))
    return results
