"""Load generators for 127.0.0.1 benchmarks: fixed-rate (open loop) and closed loop, over keep-alive HTTP/1.1.

Hand-written on asyncio streams rather than httpx or aiohttp because the generator shares two cores with
the server it measures: httpx spends about 1 ms of client CPU per request, which alone caps an open loop
near 400 req/s and would show up as server latency at 1,000 req/s. This client writes one pre-encoded
request and reads one Content-Length response per connection turn (tens of µs per request).

Latency in `fixed_rate` is measured from each request's *scheduled* send time, so a slow server cannot
hide its queueing by slowing the generator down (no coordinated omission). Both generators are bounded:
by the number of requests given and by a time limit.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode, urlsplit

__all__ = ["Request", "closed_loop", "encode", "fixed_rate", "pct"]

Request = bytes  # one fully encoded HTTP/1.1 request


def encode(url: str, params: dict[str, str], body: bytes) -> Request:
    """A keep-alive POST of `body` to `url` with query `params`, ready to write to a socket."""
    parts = urlsplit(url)
    if parts.hostname != "127.0.0.1":
        raise ValueError(f"load generators target 127.0.0.1 only, not {parts.hostname!r}")
    target = parts.path + ("?" + urlencode(params) if params else "")
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: text/xml\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile `p` (0–100) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: Request) -> int:
        """Write one request, read its response; return the status (599 when the connection failed)."""
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.write(request)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await self.reader.readexactly(length)
            if b"connection: close" in head.lower():
                self.close()
            return status
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            self.close()
            return 599

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _pool(url: str, connections: int) -> asyncio.Queue[_Connection]:
    parts = urlsplit(url)
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(_Connection(parts.hostname or "127.0.0.1", parts.port or 80))
    return pool


def _summary(latencies: list[float], statuses: list[int], elapsed: float) -> dict:
    return {
        "n": len(latencies),
        "errors": sum(1 for s in statuses if s != 200),
        "achieved_rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": pct(latencies, 50) * 1000 if latencies else float("nan"),
        "p99_ms": pct(latencies, 99) * 1000 if latencies else float("nan"),
        "max_ms": max(latencies) * 1000 if latencies else float("nan"),
    }


async def fixed_rate(url: str, requests: list[Request], rate: float, *, connections: int = 64,
                     time_limit: float = 60.0) -> dict:
    """Send `requests` at `rate` per second whatever the answers; latency from each scheduled time."""
    pool = _pool(url, connections)
    latencies: list[float] = []
    statuses: list[int] = []
    start = time.perf_counter()
    deadline = start + time_limit

    async def one(scheduled: float, request: Request) -> None:
        conn = await pool.get()
        try:
            if time.perf_counter() > deadline:
                return
            statuses.append(await conn.send(request))
            latencies.append(time.perf_counter() - scheduled)
        finally:
            pool.put_nowait(conn)

    tasks = []
    for i, request in enumerate(requests):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if time.perf_counter() > deadline:
            break
        tasks.append(asyncio.create_task(one(scheduled, request)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    return {"offered_rps": rate, **_summary(latencies, statuses, elapsed)}


async def closed_loop(url: str, requests: list[Request], *, connections: int = 32,
                      time_limit: float = 60.0) -> dict:
    """Each of `connections` sends its next request as soon as the previous answer arrives."""
    pool = _pool(url, connections)
    latencies: list[float] = []
    statuses: list[int] = []
    queue = iter(requests)
    start = time.perf_counter()
    deadline = start + time_limit

    async def worker() -> None:
        conn = await pool.get()
        for request in queue:
            if time.perf_counter() > deadline:
                break
            t0 = time.perf_counter()
            statuses.append(await conn.send(request))
            latencies.append(time.perf_counter() - t0)
        conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return _summary(latencies, statuses, time.perf_counter() - start)
