"""``modelyard quickstart`` as a newcomer runs it: one command, a price, a curl line that works."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers.server import free_port

PRICE = re.compile(r"Predicted price for 25 m²: ([\d,]+) EUR")


def _curl_call(stdout: str) -> tuple[str, dict[str, str], str]:
    """The URL, headers and body of the printed curl line (run here with httpx)."""
    line = next(line for line in stdout.splitlines() if line.strip().startswith("curl "))
    words = shlex.split(line)
    url = next(w for w in words if w.startswith("http://127.0.0.1:"))
    headers = dict(
        words[i + 1].split(": ", 1) for i, w in enumerate(words) if w == "-H" and i + 1 < len(words)
    )
    return url, headers, words[words.index("-d") + 1]


def test_quickstart_no_serve_prints_a_price_and_a_curl_line_then_exits(tmp_path: Path) -> None:
    began = time.monotonic()
    folder = str(tmp_path / "qs")
    done = subprocess.run(
        [sys.executable, "-m", "modelyard", "quickstart", "--dir", folder, "--no-serve"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "80"},
    )
    elapsed = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    match = PRICE.search(done.stdout)
    assert match, done.stdout
    # Seed 000's flats cost 3,000 EUR/m2 plus 20,000 EUR: 95,000 EUR for 25 m2, give or take.
    assert 85_000 < int(match.group(1).replace(",", "")) < 105_000
    url, headers, body = _curl_call(done.stdout)
    assert url.endswith("/endpoints/immo/score") and body == '{"data": [[25]]}'
    assert headers["Authorization"].startswith("Bearer ") and len(headers["Authorization"]) > 30
    assert "Traceback" not in done.stderr
    assert (tmp_path / "qs" / "modelyard.toml").exists() and (tmp_path / "qs" / "immo.db").exists()
    assert elapsed < 60, f"the quickstart took {elapsed:.0f} s"


def test_quickstart_keeps_serving_until_ctrl_c_and_its_curl_line_works(tmp_path: Path) -> None:
    port = free_port()
    folder = str(tmp_path / "qs")
    process = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "quickstart", "--dir", folder, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "80", "QUICKSTART_NO_SERVE": ""},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while not any("Serving until Ctrl+C" in line for line in lines):
            line = process.stdout.readline()
            assert line or process.poll() is None, "".join(lines)
            lines.append(line)
            assert time.monotonic() < deadline, "".join(lines)
        url, headers, body = _curl_call("".join(lines))
        assert url == f"http://127.0.0.1:{port}/endpoints/immo/score"
        answer = httpx.post(url, content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert 85_000 < answer.json()["predictions"][0] < 105_000
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=40) == 0
        assert "stopped." in process.stdout.read()
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
