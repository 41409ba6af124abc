"""Installed as users install it: the wheel built from the source tree, installed (not
editable) into a fresh virtual environment, serves an entry-script endpoint.

The fresh environment takes its dependencies from this one (a ``.pth`` line naming this
environment's site-packages, as ``--system-site-packages`` would), so the test installs
only modelyard's own wheel and runs within a minute; the modelyard it imports, its
``modelyard`` command and the entry-script shim the endpoint runs all come from the
wheel. ``make wheel-test`` runs it alone; ``make test`` runs it with the rest.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx

from tests.helpers.server import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "def init():\n    print('hello from the shim')\n\ndef run(raw):\n    return raw\n"


def _run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=600, cwd=cwd
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{output}"
    return output


def _build_wheel(tmp_path: Path) -> tuple[Path, str]:
    """The wheel of a copy of the source tree (the checkout stays clean), and the build's
    verbose output."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "src", source / "src", ignore=ignore)
    dist = tmp_path / "dist"
    output = _run(sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", dist, source)
    (wheel,) = dist.glob("modelyard-*.whl")
    return wheel, output


def _fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new environment holding the wheel; its dependencies are read from this one."""
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel)
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site.strip()) / "_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return venv


def test_the_wheel_builds_without_warnings_installs_and_serves_an_entry_script(
    tmp_path: Path,
) -> None:
    wheel, output = _build_wheel(tmp_path)
    assert "would be ignored" not in output and "absent from the `packages`" not in output
    venv = _fresh_venv(tmp_path, wheel)
    where = _run(venv / "bin" / "python", "-c", "import modelyard; print(modelyard.__file__)")
    assert where.strip().startswith(str(venv)), where  # not the checkout's modelyard

    modelyard = venv / "bin" / "modelyard"
    workspace = tmp_path / "ws"
    _run(modelyard, "init", workspace)
    (tmp_path / "score.py").write_text(SCRIPT)
    port = free_port()
    log = tmp_path / "serve.out"
    with log.open("w") as handle:
        server = subprocess.Popen(
            [str(modelyard), "--workspace", str(workspace), "serve", "--port", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"serve did not get ready:\n{log.read_text()}"
            try:
                if httpx.get(f"{base}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        deployed = _run(
            modelyard, "--workspace", workspace, "endpoints", "deploy", "hello", "--no-auth",
            "--entry-script", tmp_path / "score.py",
        )  # fmt: skip
        assert "hello from the shim" in deployed and "hello is healthy" in deployed
        answer = httpx.post(f"{base}/endpoints/hello/score", json={"data": [1, 2]})
        assert answer.status_code == 200 and answer.json() == '{"data":[1,2]}', answer.text
        logs = _run(modelyard, "--workspace", workspace, "endpoints", "logs", "hello")
        assert f"serving with {venv}" in logs  # the installed environment's interpreter
    finally:
        server.kill()
        server.wait(timeout=10)
