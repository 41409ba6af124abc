"""A fixed-rate load on one scoring URL, as a process of its own:

    python load.py URL KEY RATE MAX_SECONDS OUT STOP

Request i is sent at start + i / RATE whatever the answers (an open loop: a slow server
gets more requests in flight, never fewer requests), until the file STOP exists or
MAX_SECONDS have passed. Each answer is one JSON line of OUT:
``sent`` and ``answered`` (wall times), ``status``, ``version`` (x-model-version),
``prediction`` and ``error`` (a transport failure, if any).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp


async def _one(session: aiohttp.ClientSession, url: str, row: float) -> dict[str, Any]:
    sent = time.time()
    answer: dict[str, Any] = {"sent": sent, "status": 0, "version": None, "prediction": None}
    try:
        async with session.post(url, json={"data": [[row]]}) as response:
            body = await response.read()
            answer["status"] = response.status
            version = response.headers.get("x-model-version")
            answer["version"] = int(version) if version else None
            if response.status == 200:
                answer["prediction"] = float(json.loads(body)["predictions"][0])
            else:
                answer["error"] = body.decode(errors="replace")[:300]
    except (aiohttp.ClientError, TimeoutError) as exc:
        answer["error"] = f"{type(exc).__name__}: {exc}"
    answer["answered"] = time.time()
    return answer


async def _run(url: str, key: str, rate: float, seconds: float, out: Path, stop: Path) -> None:
    connector = aiohttp.TCPConnector(limit=512)
    timeout = aiohttp.ClientTimeout(total=60)
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as s:
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        for i in range(int(rate * seconds)):
            if i % 30 == 0 and stop.exists():
                break
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(s, url, float(i % 7))))
        answers = await asyncio.gather(*tasks)
    out.write_text("".join(json.dumps(a) + "\n" for a in answers))


if __name__ == "__main__":
    target, secret, per_second, duration, output, until = sys.argv[1:7]
    asyncio.run(_run(target, secret, float(per_second), float(duration), Path(output), Path(until)))
