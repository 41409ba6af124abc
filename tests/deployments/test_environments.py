"""Endpoint environments: requirements parsing, real cached builds, the package pre-flight."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Literal

import pytest

from modelyard import Workspace
from modelyard.deployments.env.builder import BuiltEnvironment, EnvironmentCache
from modelyard.deployments.env.packages import (
    check_packages,
    installed_packages,
    package_mismatches,
    trained_packages,
)
from modelyard.deployments.env.requirements import Requirements
from modelyard.errors import EnvironmentBuildFailed, InvalidInput, PackageMismatch
from modelyard.training.lineage import package_versions
from modelyard.web.errors import status_of
from tests.helpers.models import fitted_immo

SIX = "six==1.17.0"  # on this machine's local index: the real builds need no network

# What azureml-core's CondaDependencies().serialize_to_string() writes for seed 003.
SEED_003_CONDA = """\
# Conda environment specification. The dependencies defined in this file will
# be automatically provisioned for runs with userManagedDependencies=False.

# Details about the Conda environment file format:
# https://conda.io/docs/user-guide/tasks/manage-environments.html#create-env-file-manually

name: project_environment
dependencies:
  # The python interpreter version.
  # Currently Azure ML only supports 3.5.2 and later.
- python=3.8.10

- pip:
    # Required packages for AzureML execution, history, and data preparation.
  - azureml-defaults~=1.38.0
- scikit-learn=0.22.1
- xgboost
channels:
- anaconda
- conda-forge
"""


# -- reading conda files and requirements ------------------------------------------------


def test_seed_003_conda_file_gives_its_packages_python_and_notes() -> None:
    reqs = Requirements.from_conda_yaml(SEED_003_CONDA)
    # numpy and pandas: what Azure's inference base image had (the entry script imports pandas)
    assert reqs.lines == ("numpy", "pandas", "scikit-learn==0.22.1", "xgboost")
    assert reqs.python == "3.8.10"
    notes = "\n".join(reqs.notes)
    assert "dropped azureml-defaults~=1.38.0: modelyard supplies its own" in notes
    assert "channels ignored" in notes and "conda-forge" in notes
    assert "added numpy, pandas: azureml-inference 2021.05 (Azure ML's inference base" in notes


def test_azures_base_packages_yield_to_the_files_own_and_stay_out_of_requirements_files() -> None:
    pinned = Requirements.from_conda_yaml("dependencies:\n- pandas=2.2\n- pip:\n  - six\n")
    assert pinned.lines == ("numpy", "pandas==2.2.*", "six")  # its pandas, Azure's numpy
    declared = Requirements.from_conda_yaml("dependencies:\n- numpy=1.26\n- pandas=2.2.3\n")
    assert declared.lines == ("numpy==1.26.*", "pandas==2.2.3")
    assert not any("added" in note for note in declared.notes)
    assert Requirements.from_requirements_text("six\n").lines == ("six",)
    assert Requirements.from_conda_yaml("dependencies:\n- six\n", base=None).lines == ("six",)


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        ("scikit-learn=0.22.1", "scikit-learn==0.22.1"),
        ("numpy=1.21", "numpy==1.21.*"),  # conda's `=1.21` is any 1.21.x
        ("numpy 1.21.*", "numpy==1.21.*"),
        ("scipy==1.10.1", "scipy==1.10.1"),
        ("pandas>=1.3,<2", "pandas<2,>=1.3"),
        ("conda-forge::py-xgboost=1.7.6=cpu_py310h_0", "xgboost==1.7.6"),
        ("pytorch", "torch"),
        ("Scikit_Learn", "scikit-learn"),
    ],
)
def test_conda_specs_become_pip_requirements(spec: str, line: str) -> None:
    text = f"dependencies:\n  - {spec}\n"
    assert Requirements.from_conda_yaml(text, base=None).lines == (line,)


def test_pip_itself_and_conda_only_libraries_are_skipped() -> None:
    reqs = Requirements.from_conda_yaml(
        "dependencies:\n- pip\n- mkl=2023.1\n- libgcc-ng\n- python\n- six\n", base=None
    )
    assert reqs.lines == ("six",)
    assert reqs.python is None
    assert any("mkl=2023.1" in note for note in reqs.notes)
    assert not any("pip" in note for note in reqs.notes)


def test_conda_files_in_other_shapes_read_the_same() -> None:
    indented = """\
---
name: "seed 003"   # a comment
channels: [conda-forge, 'defaults']
variables:
  OMP_NUM_THREADS: 1
dependencies:
    - python=3.11
    - "scikit-learn=1.5.2"   # pinned
    - pip:
          - six==1.17.0
          - 'requests>=2.31'
    - py-xgboost
prefix: /opt/conda/envs/x
"""
    flow = "dependencies: [python=3.11, scikit-learn=1.5.2, py-xgboost, {pip: [six==1.17.0]}]\n"
    crlf = (
        "name: x\r\ndependencies:\r\n- python=3.11\r\n- scikit-learn=1.5.2\r\n- pip:\r\n"
        "  - six==1.17.0\r\n  - requests>=2.31\r\n- xgboost\r\n"
    )
    expected = (
        "numpy",
        "pandas",
        "requests>=2.31",
        "scikit-learn==1.5.2",
        "six==1.17.0",
        "xgboost",
    )
    assert Requirements.from_conda_yaml(indented).lines == expected
    assert Requirements.from_conda_yaml(crlf).lines == expected
    assert Requirements.from_conda_yaml(indented).python == "3.11"
    # a pip list written on the item's own line as a flow list
    inline = (
        "dependencies:\n- pip: [six==1.17.0, 'requests>=2.31']\n- scikit-learn=1.5.2\n- xgboost\n"
    )
    assert Requirements.from_conda_yaml(inline).lines == expected
    with pytest.raises(InvalidInput, match="line 1"):
        Requirements.from_conda_yaml(flow)  # a flow mapping is beyond the subset: refused


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("dependencies:\n\t- six\n", "tabs"),
        ("dependencies: &deps\n- six\n", "line 1"),
        ("dependencies: [six,\n  numpy]\n", "close on the same line"),
        ("dependencies:\n- - six\n", "nested lists"),
        ("dependencies:\n- pip:\n  - -r requirements.txt\n", "list its packages here"),
        (
            "dependencies:\n- pip:\n  - --index-url https://example.org/simple\n",
            "pip configuration",
        ),
        ("dependencies:\n- conda: [six]\n", "only pip"),
        ("dependencies:\n- numpy[version='>=1.0']\n", "brackets"),
        ("- six\n", "top-level"),
    ],
)
def test_conda_files_beyond_the_subset_are_refused_with_the_reason(text: str, where: str) -> None:
    with pytest.raises(InvalidInput, match=where) as caught:
        Requirements.from_conda_yaml(text)
    assert caught.value.code == "invalid_requirements"


def test_requirements_text_skips_comments_and_blank_lines() -> None:
    text = "# pinned for the seed\n\nscikit-learn==1.5.2  # the model's\nxgboost \\\n  >=2.0\n"
    assert Requirements.from_requirements_text(text).lines == (
        "scikit-learn==1.5.2",
        "xgboost>=2.0",
    )


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("-r other.txt", "nested requirements file"),
        ("--requirement=other.txt", "nested requirements file"),
        ("-c constraints.txt", "constraints file"),
        ("--index-url https://example.org/simple", "server's pip configuration"),
        ("--extra-index-url=https://example.org/simple", "server's pip configuration"),
        ("-e .", "editable"),
        ("six==1.17.0 --hash=sha256:abc", "per-requirement options"),
        ("./local/folder", "not a pip requirement"),
    ],
)
def test_pip_options_in_requirements_are_refused_clearly(line: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as caught:
        Requirements.from_requirements_text(f"six\n{line}\n")
    assert caught.value.code == "invalid_requirements"
    if not line.startswith("./"):
        assert caught.value.details["line"] == 2


def test_lines_are_normalised_sorted_and_merged_per_package() -> None:
    reqs = Requirements.from_lines(
        ["Scikit_Learn == 1.5.2", "xgboost", "XGBoost>=2.0", "six", "six", "pandas[Excel]<3"]
    )
    assert reqs.lines == ("pandas[excel]<3", "scikit-learn==1.5.2", "six", "xgboost>=2.0")
    assert reqs == Requirements.from_requirements_text(
        "six\npandas[excel] <3\nxgboost>=2.0\nscikit-learn==1.5.2\n"
    )


def test_the_same_packages_give_the_same_digest_however_declared() -> None:
    from_conda = Requirements.from_conda_yaml(
        "dependencies:\n- python=3.8\n- scikit-learn=0.22.1\n- pip:\n  - azureml-core\n- xgboost\n"
    )
    from_text = Requirements.from_requirements_text("xgboost\nscikit_learn==0.22.1\nnumpy\npandas")
    assert from_conda.digest == from_text.digest
    assert from_conda.digest != Requirements.from_lines(["scikit-learn==0.22.2", "xgboost"]).digest


def test_digest_is_stable_and_keyed_by_python_minor_and_builder_format() -> None:
    reqs = Requirements.from_lines(["scikit-learn==1.5.2", "xgboost"])
    # a changed value here rebuilds every cached environment: bump BUILDER_FORMAT on purpose
    assert reqs.digest_for("3.11.7") == (
        "99c86a40ab91cbb4a801b243c10171fd94989f85a7be7587a02e879651132908"
    )
    assert reqs.digest_for("3.11.2") == reqs.digest_for("3.11.9")
    assert reqs.digest_for("3.11.2") != reqs.digest_for("3.12.0")
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert reqs.digest == reqs.digest_for(current)


def test_requirements_round_trip_through_a_json_row(tmp_path: Path) -> None:
    (tmp_path / "scoring_env.yml").write_text(SEED_003_CONDA)
    (tmp_path / "requirements.txt").write_text("xgboost\nscikit-learn==0.22.1\nnumpy\npandas\n")
    from_yaml = Requirements.from_file(tmp_path / "scoring_env.yml")
    from_text = Requirements.from_file(tmp_path / "requirements.txt")
    assert from_yaml.lines == from_text.lines and from_yaml.digest == from_text.digest
    stored = json.loads(json.dumps(from_yaml.to_dict()))
    again = Requirements.from_dict(stored)
    assert again == from_yaml and again.python == "3.8.10" and again.notes == from_yaml.notes
    with pytest.raises(InvalidInput, match="cannot read"):
        Requirements.from_file(tmp_path / "missing.txt")


# -- real builds -------------------------------------------------------------------------


INSTALLERS = [
    pytest.param("pip"),
    pytest.param(
        "uv", marks=pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")
    ),
]


@pytest.mark.parametrize("installer", INSTALLERS)
def test_a_real_build_is_isolated_logged_and_reused(
    tmp_path: Path, installer: Literal["pip", "uv"]
) -> None:
    cache = EnvironmentCache(tmp_path / "envs", installer=installer)
    reqs = Requirements.from_conda_yaml(  # without Azure's base packages: six alone
        f"dependencies:\n- python=3.8\n- pip:\n  - azureml-defaults\n  - {SIX}\n", base=None
    )
    assert reqs.lines == (SIX,)
    lines: list[str] = []
    started = time.monotonic()
    built = cache.ensure(reqs, lines.append)
    took = time.monotonic() - started

    assert not built.reused and built.path == cache.path_for(reqs)
    assert built.packages["six"] == "1.17.0"
    assert "numpy" not in built.packages  # the server's own packages do not leak in
    version = subprocess.run(
        [str(built.python), "-c", "import six; print(six.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == "1.17.0"
    assert "Successfully installed six-1.17.0" in lines or " + six==1.17.0" in lines
    assert (
        "note: dropped azureml-defaults: modelyard supplies its own azureml-defaults shim" in lines
    )
    assert f"it is built with this server's python {cache.python_version}" in "\n".join(lines)
    assert built.log_path.read_text() == cache.build_log(reqs) == "".join(f"{x}\n" for x in lines)
    assert (built.path / ".complete").is_file()

    started = time.monotonic()
    again = cache.ensure(reqs)
    assert again.reused and again.path == built.path and again.python == built.python
    assert again.packages == built.packages
    assert time.monotonic() - started < min(0.5, took)


_ENSURE_SCRIPT = """\
import json, sys
from pathlib import Path
from typing import Literal
from modelyard.deployments.env.builder import EnvironmentCache
from modelyard.deployments.env.requirements import Requirements
cache = EnvironmentCache(Path(sys.argv[1]))
built = cache.ensure(Requirements.from_lines([sys.argv[2]]), lambda line: print(line, flush=True))
print(json.dumps({"reused": built.reused, "path": str(built.path)}), flush=True)
"""


def test_concurrent_threads_and_processes_wait_for_one_build(tmp_path: Path) -> None:
    root = tmp_path / "envs"
    cache = EnvironmentCache(root)
    reqs = Requirements.from_lines([SIX])
    paused, release = threading.Event(), threading.Event()
    results: dict[str, BuiltEnvironment] = {}

    def hold_mid_build(line: str) -> None:  # the first builder stops holding the lock
        if line.startswith("$ "):
            paused.set()
            release.wait(120)

    def ensure(key: str, log: Callable[[str], None]) -> None:
        results[key] = cache.ensure(reqs, log)

    first = threading.Thread(target=ensure, args=("first", hold_mid_build))
    first.start()
    assert paused.wait(60)
    waiting = threading.Event()

    second_lines: list[str] = []

    def note_waiting(line: str) -> None:
        second_lines.append(line)
        if "waiting" in line:
            waiting.set()

    second = threading.Thread(target=ensure, args=("second", note_waiting))
    second.start()
    other = subprocess.Popen(
        [sys.executable, "-c", _ENSURE_SCRIPT, str(root), SIX],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert other.stdout is not None
    for line in other.stdout:  # the other process also waits on the lock
        if "waiting" in line:
            break
    else:
        pytest.fail("the other process never waited")
    assert waiting.wait(60)
    release.set()
    first.join(120)
    second.join(120)
    last = other.communicate(timeout=120)[0].strip().splitlines()[-1]

    built, reused = results["first"], results["second"]
    assert not built.reused and reused.reused
    assert json.loads(last) == {"reused": True, "path": str(built.path)}
    assert not any(line.startswith("$ ") for line in second_lines)  # it ran no command


@pytest.mark.parametrize("installer", INSTALLERS)
def test_a_failed_build_shows_the_installers_error_and_leaves_no_environment(
    tmp_path: Path, installer: Literal["pip", "uv"]
) -> None:
    cache = EnvironmentCache(tmp_path / "envs", installer=installer)
    reqs = Requirements.from_lines(["modelyard-no-such-package==1.0", SIX])
    with pytest.raises(EnvironmentBuildFailed) as caught:
        cache.ensure(reqs)
    error = caught.value
    assert error.code == "environment_build_failed"
    assert "modelyard-no-such-package==1.0, six==1.17.0" in error.message
    own_words = {
        "pip": "ERROR: No matching distribution found for modelyard-no-such-package==1.0",
        "uv": "modelyard-no-such-package was not found in the package registry",
    }[installer]
    assert own_words in error.message
    assert error.details["requirements"] == list(reqs.lines)
    assert not cache.path_for(reqs).exists()
    assert own_words in cache.build_log(reqs)
    assert status_of(error) == 422


def test_a_build_past_its_timeout_is_killed_with_a_clear_message(tmp_path: Path) -> None:
    slow = tmp_path / "slow-python"  # a python whose venv step hangs
    slow.write_text(
        "#!/bin/sh\n"
        'if [ "$2" = "venv" ]; then echo "creating slowly"; sleep 60; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    slow.chmod(0o755)
    cache = EnvironmentCache(tmp_path / "envs", base_python=str(slow), installer="pip")
    reqs = Requirements.from_lines([SIX])
    started = time.monotonic()
    with pytest.raises(EnvironmentBuildFailed, match="took longer than 1 s and was stopped"):
        cache.ensure(reqs, timeout_s=1)
    assert time.monotonic() - started < 15
    assert not cache.path_for(reqs).exists()
    assert "creating slowly" in cache.build_log(reqs)


# -- packages and the pre-flight ---------------------------------------------------------


def test_installed_packages_reads_the_interpreters_own_distributions() -> None:
    found = installed_packages(sys.executable)
    assert found["scikit-learn"] == metadata.version("scikit-learn")
    assert found["sqlalchemy"] == metadata.version("SQLAlchemy")
    assert all(name == name.lower() and "_" not in name for name in found)
    with pytest.raises(EnvironmentBuildFailed, match="cannot list the packages"):
        installed_packages("/nonexistent/bin/python")


@pytest.mark.parametrize(
    ("trained", "serving", "lines"),
    [
        (
            {"scikit-learn": "1.9.1"},
            {"scikit-learn": "1.5.2"},
            ["scikit-learn: trained with 1.9.1, serving has 1.5.2 (minor differs)"],
        ),
        (
            {"numpy": "1.26.4"},
            {"numpy": "2.1.0"},
            ["numpy: trained with 1.26.4, serving has 2.1.0 (major differs)"],
        ),
        (
            {"xgboost": "2.1.0"},
            {},
            ["xgboost: trained with 2.1.0, serving has none (not installed)"],
        ),
        ({"scikit_learn": "1.5.1"}, {"scikit-learn": "1.5.2"}, []),  # patch only
        ({"scikit-learn": "unknown", "xgboost": None, "numpy": ""}, {}, []),
        ({"pandas": "1.5.3", "python": "3.8.10"}, {"pandas": "2.2.0"}, []),  # not watched
    ],
)
def test_package_mismatches_count_major_and_minor_of_watched_packages(
    trained: dict[str, object], serving: dict[str, str], lines: list[str]
) -> None:
    assert package_mismatches(trained, serving) == lines


def test_check_packages_refuses_with_the_differences_unless_overridden() -> None:
    trained, serving = {"scikit-learn": "1.9.1", "numpy": "2.1.0"}, {"scikit-learn": "1.5.2"}
    with pytest.raises(PackageMismatch) as caught:
        check_packages(trained, serving)
    assert caught.value.code == "package_mismatch" and status_of(caught.value) == 409
    assert "scikit-learn: trained with 1.9.1, serving has 1.5.2 (minor differs)" in str(
        caught.value
    )
    assert len(caught.value.details["mismatches"]) == 2
    assert check_packages(trained, serving, override=True) == caught.value.details["mismatches"]
    assert check_packages(trained, {"scikit-learn": "1.9.0", "numpy": "2.1.3"}) == []


def test_trained_packages_come_from_a_versions_lineage(sqlite_workspace: Workspace) -> None:
    model, _ = fitted_immo()
    registered = sqlite_workspace.models.register("immo", model)
    # a live model is serialised by this process, whose packages are recorded for it
    assert trained_packages(registered)["scikit-learn"] == metadata.version("scikit-learn")
    recorded = {**package_versions(), "scikit-learn": "1.5.2"}  # as a training run elsewhere
    trained = sqlite_workspace.models.register("immo", model, lineage={"packages": recorded})
    assert trained_packages(trained)["scikit-learn"] == "1.5.2"
    trained = sqlite_workspace.models.register(
        "immo", model, lineage={"packages": package_versions()}
    )
    assert trained_packages(trained)["scikit-learn"] == metadata.version("scikit-learn")
    assert package_mismatches(trained_packages(trained), installed_packages(sys.executable)) == []
