"""A small closed-loop gRPC load generator for bench/serve.py --grpc: ``ModelInfer`` calls of
the Open Inference Protocol (``inference.GRPCInferenceService``), the same serialized
request again and again. Runs in its own process (uvloop if present).

    python bench/grpc_loadgen.py HOST:PORT REQUEST_FILE --concurrency 16 --channels 4
        --duration 10 [-H "name: value"]...

REQUEST_FILE holds a serialized ``ModelInferRequest``; it is sent as bytes and the answer
is not parsed (only counted), so that the client costs the same whatever the server. Each
of ``--concurrency`` tasks keeps one call in flight, spread over ``--channels`` HTTP/2
connections. Prints one JSON line with bench/loadgen.py's keys: requests, duration_us, the
error counts (status counts calls that did not end OK), p50_us, p99_us, mean_us, max_us.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import grpc

try:
    import uvloop
except ImportError:  # plain asyncio works too, a little slower
    uvloop = None

METHOD = "/inference.GRPCInferenceService/ModelInfer"


async def run(args: argparse.Namespace) -> dict[str, int]:
    body = Path(args.request).read_bytes()
    metadata = tuple(
        (name.strip().lower(), value.strip())
        for name, _, value in (h.partition(":") for h in args.header)
    )
    channels = [
        grpc.aio.insecure_channel(args.target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(args.channels)
    ]
    calls = [c.unary_unary(METHOD) for c in channels]  # bytes in, bytes out
    latencies: list[int] = []
    errors = 0
    measuring = False
    stop = asyncio.Event()

    async def caller(k: int) -> None:
        nonlocal errors
        call = calls[k % len(calls)]
        while not stop.is_set():
            began = time.perf_counter_ns()
            try:
                await call(body, metadata=metadata, timeout=30)
            except grpc.aio.AioRpcError:
                if measuring:
                    errors += 1
                continue
            if measuring:
                latencies.append((time.perf_counter_ns() - began) // 1000)

    tasks = [asyncio.create_task(caller(k)) for k in range(args.concurrency)]
    await asyncio.sleep(args.warmup)
    measuring = True
    started = time.perf_counter_ns()
    await asyncio.sleep(args.duration)
    measuring = False
    duration_us = (time.perf_counter_ns() - started) // 1000
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()
    latencies.sort()

    def pct(p: float) -> int:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0

    return {
        "requests": len(latencies) + errors,
        "duration_us": duration_us,
        "connect": 0,
        "read": 0,
        "write": 0,
        "status": errors,
        "timeout": 0,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "mean_us": sum(latencies) // max(1, len(latencies)),
        "max_us": latencies[-1] if latencies else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target")
    parser.add_argument("request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=0)
    parser.add_argument("-H", "--header", action="append", default=[])
    args = parser.parse_args()
    result = (uvloop.run if uvloop is not None else asyncio.run)(run(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
