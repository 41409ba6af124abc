"""modelyard's entry-script host (``shim/modelyard_entry_host.py``) as a real process on an
app root in tmp_path, over HTTP: the azmlinfsrv contract of PROTOCOLS.md §2.

The matrix runs on the project's interpreter; the inference-schema cases run on the cached
reference environment (inference-schema downgrades wrapt, so it is not in the project's).
``azureml`` is never imported in this process: the shim is exercised in subprocesses only.
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.entry_scripts import (
    IN_CI,
    SCRIPTS,
    Server,
    host,
    lay_out,
    reference_python,
    shim_dir,
    start_host,
    wait_host,
)
from tests.helpers.venvs import Unavailable, cache_dir

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SCRIPT_FAILED = (
    b'{"message": "An unexpected error occurred in scoring script. Check the logs for more info."}'
)
INTERNAL = b'{"message": "An unexpected internal error occurred. Check the logs for more info."}'


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = lay_out(tmp_path_factory.mktemp("matrix") / "app", "matrix.py")
    env = {"SCORING_TIMEOUT_MS": "1000", "SERVICE_NAME": "immo", "SERVICE_VERSION": "3"}
    with host(root, env=env) as server:
        yield server


def score(server: Server, case: str) -> httpx.Response:
    return httpx.post(server.base + "/score", json={"case": case}, timeout=30)


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("seed003", b'"[250.0]"'),
        ("hello", b'"hello"'),
        ("empty", b'""'),
        ("unicode", b'"prix 25 m\\u00b2"'),
        ("dict", b'{"a": 1, "b": [1, 2]}'),
        ("list", b"[1, 2, 3]"),
        ("tuple", b"[1, 2]"),
        ("int", b"42"),
        ("np_float", b"1.5"),
        ("bool", b"true"),
        ("none", b"{}"),
        ("nan", b'{"x": NaN}'),
    ],
)
def test_run_results_are_json_encoded_like_azmlinfsrv(
    matrix: Server, case: str, body: bytes
) -> None:
    response = score(matrix, case)
    assert (response.status_code, response.content) == (200, body)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-ms-run-function-failed"] == "False"
    assert re.fullmatch(r"\d+\.\d{3}", response.headers["x-ms-run-fn-exec-ms"])
    assert response.headers["x-ms-server-version"].startswith("modelyard-entry-host/")


def test_seed_003_client_reads_the_double_encoded_string(matrix: Server) -> None:
    response = httpx.post(
        matrix.base + "/score",
        content=json.dumps({"case": "seed003"}),
        headers={"Content-Type": "application/json"},
    )
    assert json.loads(response.json()) == [250.0]


@pytest.mark.parametrize("case", ["np_array", "dataframe", "bytes"])
def test_unserialisable_result_is_500_internal_and_not_a_run_failure(
    matrix: Server, case: str
) -> None:
    response = score(matrix, case)
    assert (response.status_code, response.content) == (500, INTERNAL)
    assert response.headers["x-ms-run-function-failed"] == "False"
    assert "x-ms-run-fn-exec-ms" not in response.headers


def test_exception_in_run_is_500_with_the_message_only_in_the_logs(matrix: Server) -> None:
    response = score(matrix, "raise")
    assert (response.status_code, response.content) == (500, SCRIPT_FAILED)
    assert response.headers["x-ms-run-function-failed"] == "True"
    assert b"boom" not in response.content
    time.sleep(0.1)
    assert "ValueError: boom" in matrix.output() and "Traceback" in matrix.output()


def test_run_past_the_scoring_timeout_is_interrupted_with_500(matrix: Server) -> None:
    began = time.monotonic()
    response = score(matrix, "sleep")
    assert (response.status_code, response.content) == (
        500,
        b'{"message": "Scoring timeout after 1000 ms"}',
    )
    assert response.headers["x-ms-run-function-failed"] == "True"
    assert time.monotonic() - began < 4  # run() was interrupted, not waited for
    assert score(matrix, "hello").status_code == 200


def test_aml_responses_keep_status_body_and_headers(matrix: Server) -> None:
    custom = score(matrix, "aml_json")
    assert (custom.status_code, custom.content) == (422, b'{"custom": true}')
    assert custom.headers["content-type"] == "application/json"
    assert (custom.headers["x-custom"], custom.headers["x-ms-run-function-failed"]) == (
        "1",
        "False",
    )
    text = score(matrix, "aml_text")
    assert (text.status_code, text.headers.get_list("content-type"), text.content) == (
        200,
        ["text/plain"],
        b"plain text body",
    )
    bad = score(matrix, "aml_503")
    assert (bad.status_code, bad.headers["content-type"], bad.content) == (
        503,
        "text/html; charset=utf-8",
        b"bad",
    )
    assert bad.headers["x-ms-run-function-failed"] == "True"
    multi = score(matrix, "aml_multi")
    assert multi.headers.get_list("x-multi") == ["a", "b", "c"]
    assert (score(matrix, "aml_none").status_code, score(matrix, "aml_none").content) == (
        201,
        b"{}",
    )
    assert score(matrix, "aml_bytes").content == b"\x89PNG\x00"


def test_body_reaches_run_as_a_str_whatever_its_content_type(matrix: Server) -> None:
    for content_type in ("text/plain", "text/csv", "application/json"):
        response = httpx.post(
            matrix.base + "/score", content="a,b", headers={"Content-Type": content_type}
        )
        assert response.content == b'"a,b"'
    assert httpx.post(matrix.base + "/score", content=b"").content == b'""'
    bad = httpx.post(matrix.base + "/score", content=b"\xff")
    assert (bad.status_code, bad.json()) == (
        400,
        {
            "message": "Input cannot be decoded as UTF-8: "
            "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
        },
    )


def test_get_score_passes_the_query_as_json(matrix: Server) -> None:
    response = httpx.get(matrix.base + "/score?a=1&b=[1,2]&c=x&c=y")
    assert json.loads(response.json()) == {"a": 1, "b": [1, 2], "c": ["x", "y"]}


def test_request_headers_parameter_gets_the_headers(matrix: Server) -> None:
    response = httpx.post(matrix.base + "/score", content="headers", headers={"X-Custom": "v"})
    assert response.json()["X-Custom"] == "v"


def test_health_options_and_wrong_routes(matrix: Server) -> None:
    health = httpx.get(matrix.base + "/")
    assert (health.status_code, health.text, health.headers["content-type"]) == (
        200,
        "Healthy",
        "text/html; charset=utf-8",
    )
    assert httpx.head(matrix.base + "/").status_code == 200
    options = httpx.options(matrix.base + "/score")
    assert (options.status_code, options.content) == (200, b"")
    for method, path in (("PUT", "/score"), ("DELETE", "/score"), ("POST", "/")):
        response = httpx.request(method, matrix.base + path)
        assert (response.status_code, response.json()) == (
            405,
            {"message": "The method is not allowed for the requested URL."},
        )
        assert "x-request-id" not in response.headers
    missing = httpx.get(matrix.base + "/nope")
    assert missing.status_code == 404
    assert missing.json()["message"].startswith("The requested URL was not found on the server.")
    assert httpx.get(matrix.base + "/", headers={"Authorization": "Bearer x"}).status_code == 200


def test_request_id_headers(matrix: Server) -> None:
    generated = httpx.get(matrix.base + "/")
    assert UUID4.match(generated.headers["x-request-id"])
    assert generated.headers["x-ms-request-id"] == generated.headers["x-request-id"]
    echoed = httpx.get(
        matrix.base + "/",
        headers={"x-request-id": "r1", "TraceId": "t1", "x-ms-client-request-id": "c1"},
    )
    assert [
        echoed.headers[h]
        for h in ("x-request-id", "x-ms-client-request-id", "x-ms-request-id", "traceid")
    ] == ["r1", "c1", "c1", "t1"]
    legacy = httpx.get(matrix.base + "/", headers={"x-ms-request-id": "l1"})
    assert (legacy.headers["x-ms-request-id"], legacy.headers["x-ms-client-request-id"]) == (
        "l1",
        "l1",
    )
    too_long = httpx.post(
        matrix.base + "/score", content="hello", headers={"x-request-id": "x" * 101}
    )
    assert (too_long.status_code, too_long.json()) == (
        431,
        {"message": "x-request-id must not exceed 100 characters"},
    )


def test_swagger_versions(matrix: Server) -> None:
    two = httpx.get(matrix.base + "/swagger.json").json()
    assert (two["swagger"], two["info"]["title"], two["info"]["version"]) == ("2.0", "immo", "3")
    assert two["definitions"]["ServiceInput"] == {"type": "object", "example": {}}
    assert two["securityDefinitions"]["Bearer"]["name"] == "Authorization"
    assert httpx.get(matrix.base + "/swagger.json?version=3").json()["openapi"] == "3.0.3"
    assert httpx.get(matrix.base + "/swagger.json?version=3.1").json()["openapi"] == "3.1.0"
    bad = httpx.get(matrix.base + "/swagger.json?version=7")
    assert (bad.status_code, bad.json()) == (
        404,
        {"message": "Swagger version [7] is not valid. Supported versions: [2, 3, 3.1]."},
    )


def test_one_run_at_a_time_while_health_answers(matrix: Server) -> None:
    results: list[float] = []

    def nap() -> None:
        score(matrix, "nap")
        results.append(time.monotonic())

    began = time.monotonic()
    threads = [threading.Thread(target=nap) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    assert httpx.get(matrix.base + "/", timeout=0.3).status_code == 200
    for thread in threads:
        thread.join()
    assert max(results) - began >= 1.1  # 3 x 0.4 s, one after the other


def test_sigterm_drains_the_request_in_flight_then_exits_0(tmp_path: Path) -> None:
    server = start_host(lay_out(tmp_path / "app", "matrix.py"))
    try:
        wait_host(server)
        answers: list[httpx.Response] = []
        thread = threading.Thread(target=lambda: answers.append(score(server, "nap")))
        thread.start()
        deadline = time.monotonic() + 30
        while "napping" not in server.output():  # the request is in the script now
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.02)
        os.kill(server.popen.pid, signal.SIGTERM)
        thread.join(timeout=10)
        assert (answers[0].status_code, answers[0].content) == (200, b'"napped"')
        assert server.popen.wait(timeout=10) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(server.base + "/", timeout=2)
    finally:
        server.stop()


def test_user_swagger_file_is_served(tmp_path: Path) -> None:
    spec = {"swagger": "2.0", "info": {"title": "mine"}, "paths": {}}
    root = lay_out(tmp_path / "app", "matrix.py", extra={"swagger.json": json.dumps(spec)})
    with host(root) as server:
        assert httpx.get(server.base + "/swagger.json").json() == spec
        assert httpx.get(server.base + "/swagger.json?version=3").json()["openapi"] == "3.0.3"


def test_rawhttp_run_gets_the_request(tmp_path: Path) -> None:
    with host(lay_out(tmp_path / "app", "rawhttp.py")) as server:
        got = httpx.get(server.base + "/score?a=1&a=2&b=x").json()
        assert got == {
            "method": "GET",
            "args": {"a": "1", "b": "x"},
            "path": "/score",
            "full_path": "/score?a=1&a=2&b=x",
            "a_list": ["1", "2"],
        }
        posted = json.loads(
            httpx.post(server.base + "/score", json={"k": 1}, headers={"X-Custom": "y"}).json()
        )
        assert (posted["json"], posted["header"], posted["mimetype"]) == (
            {"k": 1},
            "y",
            "application/json",
        )
        files = json.loads(
            httpx.post(
                server.base + "/score", files={"image": ("a.txt", b"pixels")}, data={"note": "n"}
            ).json()
        )
        assert (files["files"], files["form"]) == ({"image": ["a.txt", "pixels"]}, {"note": "n"})
        binary = httpx.post(server.base + "/score?binary=1", content=b"\x00\xff")
        assert (binary.content, binary.headers["content-type"]) == (
            b"\x00\xff",
            "application/octet-stream",
        )


def _boot(
    tmp_path: Path, script: str, python: Path | str = sys.executable
) -> tuple[int, str, bool]:
    root = lay_out(tmp_path / "app", script, models={"m": {1: {"m.pkl": b"x"}}})
    server = start_host(root, python)
    try:
        code = server.popen.wait(timeout=60)
    finally:
        server.stop()
    assert server.port_file is not None
    return code, server.output(), server.port_file.exists()


def test_init_failure_exits_3_with_traceback_and_model_dir_tree(tmp_path: Path) -> None:
    code, output, ready = _boot(tmp_path, "init_fails.py")
    assert (code, ready) == (3, False)
    assert "RuntimeError: init exploded" in output
    assert (
        "Model Directory Contents:\nazureml-models/\n    m/\n        1/\n            m.pkl"
        in output
    )


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("no_run.py", "does not have a run() function defined."),
        ("star_args.py", "run() cannot accept positional-only arguments, *args, or **kwargs."),
    ],
)
def test_scripts_azmlinfsrv_refuses_exit_3(tmp_path: Path, script: str, message: str) -> None:
    code, output, ready = _boot(tmp_path, script)
    assert (code, ready) == (3, False)
    assert message in output


# -- the shim, in subprocesses ----------------------------------------------------------------
MODELS = {
    "pipeline_processing": {1: {"pipeline_processing.pkl": b"p"}},
    "modelML2": {1: {"modelML2.pkl": b"1"}, 2: {"modelML2.pkl": b"2"}},
    "two": {1: {"a.pkl": b"a", "b.pkl": b"b"}},
}


def model_paths(calls: list[list[Any]], cwd: Path, env: dict[str, str]) -> list[dict[str, str]]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AML_", "AZUREML_"))}
    code = (
        f"import sys; sys.path.insert(0, {str(shim_dir())!r}); "
        f"sys.argv[1:] = [{json.dumps(calls)!r}]; "
        f"exec(open({str(SCRIPTS / 'model_paths.py')!r}).read())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.fixture()
def app(tmp_path: Path) -> Path:
    root = lay_out(tmp_path / "app", "seed003.py", models=MODELS)
    (root / "azureml-models" / "folderm" / "3" / "outputs").mkdir(parents=True)
    (root / "azureml-models" / "folderm" / "3" / "outputs" / "model.pkl").write_bytes(b"f")
    (root / "localonly.pkl").write_bytes(b"l")
    return root


def test_get_model_path_follows_azureml_core(app: Path, tmp_path: Path) -> None:
    calls = [
        ["pipeline_processing"],
        ["modelML2"],
        ["modelML2", 1],
        ["folderm"],
        ["two"],
        ["localonly.pkl"],
        ["modelML2", "2"],
        ["nothere"],
        ["nothere", 1],
        ["modelML2", 5],
    ]
    got = model_paths(calls, app, {})
    missing = (
        f"Model nothere not found in cache at azureml-models or in current working directory "
        f"{app}. For more info, set logging level to DEBUG."
    )
    assert got == [
        {"path": "azureml-models/pipeline_processing/1/pipeline_processing.pkl"},
        {"path": "azureml-models/modelML2/2/modelML2.pkl"},
        {"path": "azureml-models/modelML2/1/modelML2.pkl"},
        {"path": "azureml-models/folderm/3/outputs"},
        {
            "error": "WebserviceException",
            "message": "Dir azureml-models/two/1 can contain only 1 file "
            f"or folder. Found {os.listdir(app / 'azureml-models/two/1')}",
        },
        {"path": "localonly.pkl"},
        {"error": "WebserviceException", "message": "version should be an int"},
        {"error": "ModelNotFoundException", "message": missing},
        {"error": "WebserviceException", "message": missing},
        {"error": "WebserviceException", "message": missing.replace("nothere", "modelML2", 1)},
    ]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    absolute = model_paths([["modelML2"]], elsewhere, {"AML_APP_ROOT": str(app)})
    assert absolute == [{"path": f"{app}/azureml-models/modelML2/2/modelML2.pkl"}]
    ignored = model_paths(
        [["modelML2"]], elsewhere, {"AZUREML_MODEL_DIR": str(app / "azureml-models")}
    )
    assert ignored[0]["error"] == "ModelNotFoundException"
    (app / "azureml-models" / "modelML2" / "latest").mkdir()
    latest = model_paths([["modelML2"]], app, {})
    assert latest == [
        {"error": "ValueError", "message": "invalid literal for int() with base 10: 'latest'"}
    ]


def test_seed_003_init_resolves_both_models_under_the_host(app: Path) -> None:
    with host(app) as server:
        got = json.loads(
            httpx.post(server.base + "/score", json={"data": [[596, "Germany"]]}).json()
        )
    assert got["paths"] == [
        f"{app}/azureml-models/pipeline_processing/1/pipeline_processing.pkl",
        f"{app}/azureml-models/modelML2/2/modelML2.pkl",
    ]
    assert (got["rows"], got["pipe"], got["xgb"]) == (1, "p", "2")


def test_model_data_collector_appends_csv_rows_when_enabled(tmp_path: Path) -> None:
    root = lay_out(tmp_path / "app", "collector.py")
    env = {"AML_MODEL_DC_STORAGE_ENABLED": "true", "AML_MODEL_DC_DEBUG": "true"}
    with host(root, env=env) as server:
        first = httpx.post(
            server.base + "/score", json={"data": [[32, "Paris"], [40, "Lyon"]]}
        ).json()
        httpx.post(server.base + "/score", json={"data": [[50, "Nice"]]})
        output = server.output()
    target = Path(first["path"])
    assert first["context"] is True
    assert target.relative_to(root).parts[:8] == (
        "modeldata",
        "default",
        "default",
        "default",
        "svc",
        "churn",
        "2",
        "inputs",
    )
    assert target.name == "default.csv"
    rows = list(csv.reader(target.open()))
    assert rows[0] == ["$aml_dc_time", "$aml_dc_correlation_id", "age", "city"]
    assert [r[2:] for r in rows[1:]] == [["32", "Paris"], ["40", "Lyon"], ["50", "Nice"]]
    assert "ModelDataCollector[churn/inputs]" in output


def test_model_data_collector_is_a_no_op_by_default(tmp_path: Path) -> None:
    root = lay_out(tmp_path / "app", "collector.py")
    with host(root) as server:
        got = httpx.post(server.base + "/score", json={"data": [[32, "Paris"]]}).json()
    assert got["context"] is False
    assert not (root / "modeldata").exists()


def test_real_azureml_core_is_used_and_only_contrib_and_monitoring_are_aliased(
    tmp_path: Path,
) -> None:
    root = lay_out(tmp_path / "app", "which_azureml.py")
    env = {"PYTHONPATH": str(SCRIPTS / "fake_azureml_core")}
    with host(root, env=env) as server:
        got = httpx.post(server.base + "/score", content="x").json()
    assert got["model_path"] == "from-the-real-azureml-core/m"
    assert got["request_file"] == str(shim_dir() / "azureml/contrib/services/aml_request.py")
    assert got["collector"] == "azureml.monitoring"
    with host(lay_out(tmp_path / "plain", "which_azureml.py")) as server:
        plain = httpx.post(server.base + "/score", content="x").json()
    assert plain["model_file"] == str(shim_dir() / "azureml/core/model.py")


def test_host_needs_nothing_but_the_standard_library(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True
    )
    python = tmp_path / "bare" / "bin" / "python"
    with host(lay_out(tmp_path / "app", "modules.py"), python) as server:
        loaded = httpx.post(server.base + "/score", content="x").json()
    assert loaded == ["azureml"]


def test_shim_is_python_3_9_and_not_importable_here() -> None:
    files = sorted(shim_dir().rglob("*.py"))
    assert (shim_dir() / "modelyard_entry_host.py") in files
    assert not (shim_dir() / "__init__.py").exists()
    for file in files:
        ast.parse(file.read_text(), str(file), feature_version=(3, 9))
    assert importlib.util.find_spec("azureml") is None
    assert not any(name == "azureml" or name.startswith("azureml.") for name in sys.modules)


def test_shim_type_checks_strictly(tmp_path: Path) -> None:
    # Outside the project's mypy run (it is no modelyard package): checked here on its own,
    # at the oldest Python mypy still targets.
    common = [
        "--strict",
        "--python-version",
        "3.10",
        "--config-file",
        os.devnull,
        "--ignore-missing-imports",
        "--cache-dir",
        str(cache_dir() / "mypy-shim"),
    ]
    for target in (
        ["--explicit-package-bases", "-p", "_modelyard_entry", "-p", "azureml"],
        [str(shim_dir() / "modelyard_entry_host.py")],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "mypy", *common, *target],
            cwd=tmp_path,
            env={**os.environ, "MYPYPATH": str(shim_dir())},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr


# -- inference-schema, in an environment that has it ------------------------------------------
@pytest.fixture(scope="module")
def schema_python() -> Path:
    try:
        return reference_python()
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        if IN_CI:
            pytest.fail(f"no environment with inference-schema (CI=true): {exc}")
        pytest.skip(f"no environment with inference-schema: {exc}")


@pytest.fixture(scope="module")
def decorated(schema_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with host(
        lay_out(tmp_path_factory.mktemp("decorated") / "app", "decorated.py"), schema_python
    ) as server:
        yield server


@pytest.mark.parametrize(
    ("content", "content_type", "status", "message"),
    [
        ('{"data": []}', "text/plain", 415, "Expects Content-Type to be application/json"),
        ("[1,2]", "application/json", 400, "POST body should be a JSON dictionary."),
        (
            "{bad",
            "application/json",
            400,
            "POST body could not be decoded as JSON: Expecting property "
            "name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        ("", "application/json", 400, "POST body is empty. Expecting a JSON dictionary."),
        (
            '{"data": [{"surface": 25, "city": "Lyon"}]}',
            "application/json",
            400,
            "A value is not provided for the 'factor' parameter.",
        ),
    ],
)
def test_input_schema_refusals(
    decorated: Server, content: str, content_type: str, status: int, message: str
) -> None:
    response = httpx.post(
        decorated.base + "/score", content=content, headers={"Content-Type": content_type}
    )
    assert (response.status_code, response.json()) == (status, {"message": message})


def test_input_schema_converts_arguments(decorated: Server) -> None:
    body = {"data": [{"surface": 25, "city": "Lyon"}], "factor": 3}
    assert httpx.post(decorated.base + "/score", json=body).json() == {
        "prices": [75.0],
        "cities": ["Lyon"],
        "type": "int",
    }
    columns = {"data": {"surface": {"0": 25}, "city": {"0": "Lyon"}}, "factor": 2.0}
    assert httpx.post(decorated.base + "/score", json=columns).json()["prices"] == [50.0]
    query = httpx.get(decorated.base + '/score?data=[{"surface":10,"city":"Nice"}]&factor=2')
    assert query.json()["prices"] == [20.0]
    bad = httpx.post(
        decorated.base + "/score", json={"data": [{"surface": "abc", "city": "x"}], "factor": 1}
    )
    assert (bad.status_code, bad.content) == (500, SCRIPT_FAILED)
    assert bad.headers["x-ms-run-function-failed"] == "True"


def test_input_schema_drives_the_swagger(decorated: Server) -> None:
    spec = httpx.get(decorated.base + "/swagger.json").json()
    service_input = spec["definitions"]["ServiceInput"]
    assert service_input["properties"]["data"]["format"] == "pandas.DataFrame:records"
    assert service_input["properties"]["factor"] == {"type": "number", "format": "double"}
    assert service_input["properties"]["request_headers"] == {}
    assert service_input["example"] == {
        "data": [{"surface": 25.0, "city": "Paris"}],
        "factor": 2.0,
        "request_headers": "",
    }
    assert spec["definitions"]["ServiceOutput"]["type"] == "object"


PARENT = """
import subprocess, sys, time
# as the server does: the host's output read through a pipe, which dies with this process
child = subprocess.Popen(
    sys.argv[1:], start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
)
print(child.pid, flush=True)
time.sleep(3600)
"""


def test_a_host_whose_server_is_killed_with_sigkill_stops_by_itself(tmp_path: Path) -> None:
    root = lay_out(tmp_path / "app", "matrix.py")
    port_file = tmp_path / ".app.port"
    command = [
        sys.executable,
        str(shim_dir() / "modelyard_entry_host.py"),
        "--entry-script",
        "score.py",
        "--port-file",
        str(port_file),
    ]
    # a stand-in for the modelyard server: starts the host as the server does (its own
    # session, so no signal to the server's group reaches it), then dies with SIGKILL
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, *command], cwd=root, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            assert time.monotonic() < deadline, "the host never became ready"
            time.sleep(0.05)
        base = f"http://127.0.0.1:{int(port_file.read_text())}"
        assert httpx.get(base + "/", timeout=5).status_code == 200
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _alive(child):
            assert time.monotonic() < deadline, "the host outlived its server by 15 s"
            time.sleep(0.1)
        with pytest.raises(httpx.TransportError):
            httpx.get(base + "/", timeout=2)
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie of a reaped parent is collected by init)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
