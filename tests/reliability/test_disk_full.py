"""The artifact store's disk fills up during a registration: a clear error, nothing
registered, nothing corrupted, no partial file left behind (from the SDK and from the
CLI). The store is a 1 MiB tmpfs mounted for the test (root, as on CI's machine)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import RandomForestRegressor

from modelyard import Workspace
from modelyard.errors import ModelyardError
from tests.conftest import IN_CI, make_settings
from tests.helpers import figures
from tests.helpers.models import fitted_immo

SIZE = "1m"
MODELYARD = (sys.executable, "-m", "modelyard")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB filesystem of its own."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        message = f"cannot mount a small tmpfs: {mounted.stderr.strip()}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def big_model() -> RandomForestRegressor:
    """A forest whose file is several MiB."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2000, 4))
    return RandomForestRegressor(n_estimators=40, random_state=0).fit(features, features[:, 0])


def test_a_full_disk_during_registration_registers_and_corrupts_nothing(
    tmp_path: Path, small_disk: Path
) -> None:
    store = small_disk / "artifacts"
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'registry.db'}", store={"artifacts": str(store)}
    )
    ws = Workspace(settings)
    small, frame = fitted_immo()
    ws.models.register("immo", small, input_example=frame)  # fits: the store works
    with pytest.raises(ModelyardError) as sdk_error:
        ws.models.register("forest", big_model())
    sdk_message = sdk_error.value.message

    model_file = tmp_path / "forest.skops"
    sio.dump(big_model(), model_file)
    (tmp_path / "modelyard.toml").write_text(
        f'[registry]\ndatabase_url = "sqlite:///{tmp_path / "registry.db"}"\n'
        f'artifacts = "{store}"\n'
    )
    register = ("models", "register", str(model_file), "-n", "forest2")
    cli = subprocess.run(
        [*MODELYARD, "--workspace", str(tmp_path), *register],
        capture_output=True,
        text=True,
        check=False,
    )
    leftovers = (
        sorted(p.name for p in (store / "tmp").glob("*")) if (store / "tmp").exists() else []
    )
    names = [m.name for m in ws.models.list()]
    report = ws.doctor()
    problems = [f for f in report.findings if f.severity == "problem"]
    ws.close()

    figures.record(
        "Disk full for the artifact store during registration",
        load="register a ~5 MiB model into a 1 MiB store (SDK and CLI)",
        faults="ENOSPC while writing the artifact",
        result=(
            f"SDK: {sdk_message[:70]!r}; CLI exit {cli.returncode}; registered {names}; "
            f"{len(leftovers)} partial files; doctor problems {len(problems)}"
        ),
        passed=cli.returncode != 0 and names == ["immo"] and not leftovers and not problems,
    )
    assert "space" in sdk_message.lower(), sdk_message
    assert cli.returncode != 0
    lines = [line for line in cli.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in cli.stderr, cli.stderr
    assert "space" in cli.stderr.lower(), cli.stderr
    assert names == ["immo"]
    assert leftovers == []
    assert problems == []
