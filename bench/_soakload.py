"""The open-loop, mixed HTTP/1.1 load of `bench/soak.py`, and what each request got.

Contract: `drive(client, rate, seconds, tally)` starts one request per tick at `rate`
per second for `seconds` (open loop: a tick does not wait for earlier answers), each
of a kind taken in turn from a shuffled cycle of `MIX` (so every 100 ticks carry the
mix's exact proportions), and returns once every request it started has ended. Each
request ends in one `Tally` outcome:

* `ok`: a complete answer (its status is counted too);
* `aborted`: an `abort` request, cut by the client as designed after the head and
  the first `ABORT_AFTER` body bytes (an RST: the socket is closed unread);
* `refused`: the connect was refused (only expected after the gateway's SIGTERM);
* `idle-closed`: on a reused keep-alive connection, EOF or reset before one byte
  of the answer: the server closed the connection while it was idle, the race RFC
  9112 §9.3.1 lets a client retry (the server never read the request);
* `lost`: anything else: a connection accepted (connect succeeded, or reused after
  an answer) whose request got no complete answer (reset or EOF mid-answer, a short
  body, a timeout). The soak's "loses nothing" is `lost == 0`.
* `skipped`: not sent, because `MAX_OUTSTANDING` requests were already in flight
  (the client's own overload; the report shows it).

The client is asyncio streams on uvloop: slower per request than `_fixedrate.py`'s
bare Protocol, but it speaks every kind here (bodies up, large bodies down, one
request per connection, client aborts) with the same code.
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
from dataclasses import dataclass, field

MB = 1024 * 1024
ABORT_AFTER = 64 * 1024
TIMEOUT = 30.0
MAX_OUTSTANDING = 2000
READ = 256 * 1024


@dataclass(frozen=True)
class Kind:
    name: str
    weight: int  # ticks out of every 100
    method: str
    path: str
    upload: int = 0  # request body bytes
    fresh: bool = False  # a connection of its own, `Connection: close`
    abort: bool = False  # cut after ABORT_AFTER bytes of the answer's body


MIX = (
    Kind("get", 81, "GET", "/soak/small"),
    Kind("get-close", 12, "GET", "/soak/small", fresh=True),
    Kind("download-1mb", 3, "GET", f"/__download?bytes={MB}"),
    Kind("upload-1mb", 3, "POST", "/soak/upload", upload=MB),
    # 16 MB: more than the loopback socket buffers hold, so the gateway is mid-answer
    # (its relay paused by backpressure) when the RST comes; a 1 MB answer would
    # already sit whole in the buffers, and the exchange would end as a 200.
    Kind("abort-16mb", 1, "GET", f"/__download?bytes={16 * MB}", fresh=True, abort=True),
)


@dataclass
class Tally:
    outcomes: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    details: collections.Counter[str] = field(default_factory=collections.Counter)
    latencies: list[float] = field(default_factory=list)  # small keep-alive GETs, since take
    request_ids: list[str] = field(default_factory=list)  # of `ok` answers, if keep_ids
    keep_ids: bool = False

    def count(self, outcome: str) -> int:
        return sum(n for (_, o), n in self.outcomes.items() if o == outcome)

    def take_latencies(self) -> list[float]:
        taken, self.latencies = self.latencies, []
        return taken


class _Cut(Exception):
    """The answer ended early: `phase` is how far it got."""

    def __init__(self, phase: str, error: BaseException) -> None:
        super().__init__(f"{phase}: {type(error).__name__}")
        self.phase = phase


@dataclass
class _Answer:
    status: int
    length: int
    close: bool
    request_id: str


class Client:
    """Keep-alive connections to one host:port, reused oldest-idle first."""

    def __init__(self, host: str, port: int, host_header: str) -> None:
        self.host, self.port, self.host_header = host, port, host_header
        self.idle: collections.deque[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            collections.deque()
        )
        self.opened = 0
        self.upload_body = bytes(range(256)) * (MB // 256)

    def head(self, kind: Kind) -> bytes:
        lines = [f"{kind.method} {kind.path} HTTP/1.1", f"Host: {self.host_header}"]
        if kind.upload:
            lines += [f"Content-Length: {kind.upload}", "Content-Type: application/octet-stream"]
        if kind.fresh:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def _connection(
        self, kind: Kind
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        while not kind.fresh and self.idle:
            reader, writer = self.idle.popleft()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=READ)
        self.opened += 1
        return reader, writer, False

    async def one(self, kind: Kind, tally: Tally) -> None:
        started = time.perf_counter()
        try:
            reader, writer, reused = await self._connection(kind)
        except ConnectionRefusedError:
            tally.outcomes[kind.name, "refused"] += 1
            return
        except OSError as error:
            tally.outcomes[kind.name, "lost"] += 1
            tally.details[f"{kind.name} connect: {type(error).__name__}"] += 1
            return
        keep = False
        try:
            async with asyncio.timeout(TIMEOUT):
                answer = await self._exchange(kind, reader, writer)
        except _Cut as cut:
            outcome = "idle-closed" if reused and cut.phase == "no answer" else "lost"
            tally.outcomes[kind.name, outcome] += 1
            tally.details[f"{kind.name} {cut} ({'reused' if reused else 'new'} connection)"] += 1
        except TimeoutError:
            tally.outcomes[kind.name, "lost"] += 1
            tally.details[f"{kind.name} timeout ({'reused' if reused else 'new'} connection)"] += 1
        except Exception as error:  # an answer this client cannot read is not an answer
            tally.outcomes[kind.name, "lost"] += 1
            tally.details[f"{kind.name} {type(error).__name__}: {error}"[:120]] += 1
        else:
            tally.statuses[kind.name, answer.status] += 1
            if kind.abort:
                writer.transport.abort()  # RST with the rest of the answer unread
                tally.outcomes[kind.name, "aborted"] += 1
                return
            tally.outcomes[kind.name, "ok"] += 1
            if tally.keep_ids:
                tally.request_ids.append(answer.request_id)
            if kind.name == "get":
                tally.latencies.append(time.perf_counter() - started)
            keep = not kind.fresh and not answer.close
        finally:
            if keep:
                self.idle.append((reader, writer))
            elif not writer.is_closing():
                writer.close()

    async def _exchange(
        self, kind: Kind, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> _Answer:
        try:
            writer.write(self.head(kind))
            if kind.upload:
                writer.write(self.upload_body)
            await writer.drain()
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            raise _Cut("head" if error.partial else "no answer", error) from error
        except OSError as error:  # a reset before the head (a head is one segment)
            raise _Cut("no answer", error) from error
        except asyncio.LimitOverrunError as error:
            raise _Cut("head", error) from error
        answer = _parse_head(raw)
        wanted = min(answer.length, ABORT_AFTER) if kind.abort else answer.length
        try:
            await _read_body(reader, wanted)
        except (OSError, asyncio.IncompleteReadError) as error:
            raise _Cut("body", error) from error
        return answer

    def close(self) -> None:
        while self.idle:
            self.idle.popleft()[1].close()


def _parse_head(raw: bytes) -> _Answer:
    lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:  # the soak's upstream always sends one
        raise _Cut("head", ValueError("no Content-Length"))
    return _Answer(
        status=int(lines[0].split()[1]),
        length=int(headers["content-length"]),
        close=headers.get("connection", "").lower() == "close",
        request_id=headers.get("x-request-id", ""),
    )


async def _read_body(reader: asyncio.StreamReader, length: int) -> None:
    """Read and drop `length` bytes, a piece at a time (no 1 MB buffer per answer)."""
    while length > 0:
        piece = await reader.read(min(length, READ))
        if not piece:
            raise asyncio.IncompleteReadError(b"", length)
        length -= len(piece)


def schedule(seed: int = 7) -> list[Kind]:
    """One cycle of 100 ticks with MIX's proportions, in a fixed shuffled order."""
    cycle = [kind for kind in MIX for _ in range(kind.weight)]
    random.Random(seed).shuffle(cycle)
    return cycle


async def drive(client: Client, rate: float, seconds: float, tally: Tally) -> None:
    loop = asyncio.get_running_loop()
    cycle = schedule()
    running: set[asyncio.Task[None]] = set()
    interval = 1.0 / rate
    due = start = loop.time()
    tick = 0
    while due < start + seconds:
        while due <= loop.time() and due < start + seconds:
            kind = cycle[tick % len(cycle)]
            if len(running) >= MAX_OUTSTANDING:
                tally.outcomes[kind.name, "skipped"] += 1
            else:
                task = loop.create_task(client.one(kind, tally))
                running.add(task)
                task.add_done_callback(running.discard)
            due += interval
            tick += 1
        await asyncio.sleep(max(0.0, due - loop.time()))
    if running:
        await asyncio.wait(running)
