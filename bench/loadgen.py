"""A small closed-loop HTTP/1.1 load generator on raw asyncio streams (uvloop if present),
for bench/serve.py where wrk is not installed. Runs in its own process.

    python bench/loadgen.py URL BODY_FILE --connections 16 --duration 10 [-H "Name: value"]...

Each connection sends the same POST, waits for the whole answer, and sends again (keep-alive).
Prints one JSON line with the same keys as bench/post.lua's: requests, duration_us, the error
counts (status counts answers >= 400), p50_us, p99_us, mean_us, max_us.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

try:
    import uvloop
except ImportError:  # plain asyncio works too, a little slower
    uvloop = None


class Stats:
    def __init__(self) -> None:
        self.latencies: list[int] = []
        self.status_errors = 0
        self.read_errors = 0
        self.connect_errors = 0


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one answer (Content-Length or chunked); return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if length is not None:
        await reader.readexactly(length)
    elif chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def connection(host: str, port: int, request: bytes, until: float, stats: Stats) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        stats.connect_errors += 1
        return
    clock = time.perf_counter_ns
    try:
        while time.monotonic() < until:
            started = clock()
            writer.write(request)
            status = await read_response(reader)
            stats.latencies.append((clock() - started) // 1000)
            if status >= 400:
                stats.status_errors += 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        stats.read_errors += 1
    finally:
        writer.close()


async def run(url: str, body: bytes, headers: list[str], connections: int, duration: float) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *headers,
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    stats = Stats()
    started = time.monotonic()
    until = started + duration
    await asyncio.gather(
        *(connection(host, port, request, until, stats) for _ in range(connections))
    )
    elapsed = time.monotonic() - started
    latencies = sorted(stats.latencies)

    def percentile(p: float) -> float:
        if not latencies:
            return float("nan")
        return float(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))])

    return {
        "requests": len(latencies),
        "duration_us": int(elapsed * 1e6),
        "connect": stats.connect_errors,
        "read": stats.read_errors,
        "write": 0,
        "status": stats.status_errors,
        "timeout": 0,
        "p50_us": percentile(50),
        "p99_us": percentile(99),
        "mean_us": sum(latencies) / len(latencies) if latencies else float("nan"),
        "max_us": float(latencies[-1]) if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("body_file", type=Path)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("-H", "--header", action="append", default=[])
    args = parser.parse_args()
    if uvloop is not None:
        uvloop.install()
    body = args.body_file.read_bytes()
    result = asyncio.run(run(args.url, body, args.header, args.connections, args.duration))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
