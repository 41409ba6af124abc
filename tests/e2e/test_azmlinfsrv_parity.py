"""The differential test: the same entry scripts under Microsoft's azureml-inference-server-
http 1.5.1 (bound to 127.0.0.1, in its own cached virtual environment) and under modelyard's
entry host, the same requests, and equal status, Content-Type, body and ``x-ms-*`` / request-
id headers for every row of PROTOCOLS.md §2.2 (see ``cases.comparable`` for what is
ignored). Both servers run on the reference environment's Python. Outside CI an
unbuildable reference environment skips; with ``CI=true`` it fails.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.entry_scripts import (
    IN_CI,
    LAUNCH,
    environment,
    free_port,
    host,
    lay_out,
    reference,
    reference_python,
    shim_dir,
)
from tests.helpers.entry_scripts.cases import JSON, comparable, get, other, post, send
from tests.helpers.venvs import Unavailable

LONG_ID = "r" * 101


@pytest.fixture(scope="session")
def ref_python() -> Path:
    try:
        return reference_python()
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        if IN_CI:
            pytest.fail(f"azureml-inference-server-http unavailable (CI=true): {exc}")
        pytest.skip(f"azureml-inference-server-http unavailable: {exc}")


class Pair:
    """The reference and our host serving copies of one app root."""

    def __init__(self, reference_base: str, host_base: str) -> None:
        self.reference = reference_base
        self.host = host_base

    def compare(self, request: dict[str, Any]) -> dict[str, Any]:
        theirs = comparable(send(self.reference, request), request["headers"])
        ours = comparable(send(self.host, request), request["headers"])
        assert ours == theirs
        return ours


@pytest.fixture(scope="module")
def serve(ref_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``serve(script, env, extra)`` -> a Pair; servers stopped (by PID) at the module's end."""
    stack = ExitStack()
    pairs: dict[str, Pair] = {}

    def start(
        script: str, env: dict[str, str] | None = None, extra: dict[str, str] | None = None
    ) -> Pair:
        key = json.dumps([script, env, extra], sort_keys=True)
        if key not in pairs:
            base = tmp_path_factory.mktemp(Path(script).stem)
            for side in ("reference", "host"):
                lay_out(base / side, script, extra=extra)
            theirs = stack.enter_context(reference(base / "reference", ref_python, env))
            ours = stack.enter_context(host(base / "host", ref_python, env))
            pairs[key] = Pair(theirs.base, ours.base)
        return pairs[key]

    with stack:
        yield start


TIMEOUT = {"SCORING_TIMEOUT_MS": "1000", "SERVICE_NAME": "parity-svc", "SERVICE_VERSION": "7"}

MATRIX_CASES = [
    "seed003",
    "hello",
    "empty",
    "unicode",
    "dict",
    "list",
    "tuple",
    "int",
    "np_float",
    "bool",
    "none",
    "nan",
    "np_array",
    "dataframe",
    "bytes",
    "raise",
    "sleep",
    "aml_json",
    "aml_text",
    "aml_503",
    "aml_none",
    "aml_bytes",
    "aml_multi",
    "aml_lower_ct",
    "aml_int_header",
    "aml_own_cors",
    "headers",
]

MATRIX_REQUESTS = {
    **{f"returns-{case}": post(json.dumps({"case": case}), JSON) for case in MATRIX_CASES},
    "text-plain-body": post("hello", {"Content-Type": "text/plain"}),
    "text-csv-body": post("a,b\n1,2\n", {"Content-Type": "text/csv"}),
    "empty-body": post(b""),
    "non-utf8-body": post(b"\xff\xfe", {"Content-Type": "application/octet-stream"}),
    "form-urlencoded-body": post("a=1&b=2", {"Content-Type": "application/x-www-form-urlencoded"}),
    "json-echo-unicode": post('{"data": [[596, "Germany", "M\u00e9le"]]}', JSON),
    "get-query-json-parsed": get("/score?a=1&b=[1,2]&c=x&c=y&d=null&e="),
    "get-query-case": get("/score?case=dict"),
    "get-no-query": get("/score"),
    "chunked-body": {**post("hello chunks", {"Content-Type": "text/plain"}), "chunked": True},
    "json-array-body": post('[{"case": "dict"}]', JSON),
    "headers-to-run": post("headers", {"X-Custom": "abc", "x-ms-client-request-id": "cli-1"}),
    "health": get("/"),
    "health-head": other("HEAD", "/"),
    "health-options": other("OPTIONS", "/"),
    "health-query": get("/?x=1"),
    "score-options": other("OPTIONS", "/score"),
    "score-head": other("HEAD", "/score"),
    "score-put": other("PUT", "/score"),
    "score-delete": other("DELETE", "/score"),
    "score-patch": other("PATCH", "/score"),
    "root-post": post("x", path="/"),
    "swagger-post": post("x", path="/swagger.json"),
    "unknown-path": get("/nope"),
    "unknown-path-post": post("x", path="/api/v1/service/x/score"),
    "score-trailing-slash": get("/score/"),
    "swagger-default": get("/swagger.json"),
    "swagger-2": get("/swagger.json?version=2"),
    "swagger-2.0": get("/swagger.json?version=2.0"),
    "swagger-3": get("/swagger.json?version=3"),
    "swagger-3.0": get("/swagger.json?version=3.0"),
    "swagger-3.1": get("/swagger.json?version=3.1"),
    "swagger-7": get("/swagger.json?version=7"),
    "swagger-head": other("HEAD", "/swagger.json"),
    "request-id-echoed": post('{"case": "dict"}', {"x-request-id": "my-id-1"}),
    "request-id-too-long": post('{"case": "dict"}', {"x-request-id": LONG_ID}),
    "request-id-too-long-health": get("/", {"x-request-id": LONG_ID}),
    "request-id-too-long-404": get("/nope", {"x-request-id": LONG_ID}),
    "client-request-id-too-long": post("hello", {"x-ms-client-request-id": LONG_ID}),
    "legacy-request-id": post("hello", {"x-ms-request-id": "legacy-1"}),
    "legacy-and-client-ids": post(
        "hello", {"x-ms-request-id": "l-2", "x-ms-client-request-id": "c-2"}
    ),
    "client-request-id": post("hello", {"x-ms-client-request-id": "c-3"}),
    "all-ids": post("hello", {"x-request-id": "r-4", "x-ms-client-request-id": "c-4"}),
    "empty-request-id": post("hello", {"x-request-id": ""}),
    "trace-id": post("hello", {"TraceId": "trace-5"}),
    "bearer-ignored": post("hello", {"Authorization": "Bearer whatever"}),
}


@pytest.mark.parametrize("name", list(MATRIX_REQUESTS))
def test_undecorated_matrix_matches_azmlinfsrv(serve: Any, name: str) -> None:
    serve("matrix.py", TIMEOUT).compare(MATRIX_REQUESTS[name])


def test_the_matrix_covers_protocols_table(serve: Any) -> None:
    pair = serve("matrix.py", TIMEOUT)
    seed = pair.compare(MATRIX_REQUESTS["returns-seed003"])
    assert (seed["status"], json.loads(json.loads(seed["body"]))) == (200, [250.0])
    assert pair.compare(MATRIX_REQUESTS["returns-sleep"])["body"] == (
        b'{"message": "Scoring timeout after 1000 ms"}'
    )


APP = "https://app.example.com"
OTHER = "https://evil.example.net"
PREFLIGHT = {"Access-Control-Request-Method": "POST"}
CORS_ORIGINS = {
    "one-origin": APP,
    "two-origins": f" {APP} , https://other.example.org",
    "wildcard": "*",
    "regex": r"https://.*\.example\.com",
    "empty": "",
}
CORS_REQUESTS = {
    "preflight": other(
        "OPTIONS",
        "/score",
        {
            "Origin": APP,
            **PREFLIGHT,
            "Access-Control-Request-Headers": "Content-Type, authorization",
        },
    ),
    "preflight-no-request-headers": other("OPTIONS", "/score", {"Origin": APP, **PREFLIGHT}),
    "preflight-other-origin": other("OPTIONS", "/score", {"Origin": OTHER, **PREFLIGHT}),
    "preflight-put": other(
        "OPTIONS", "/score", {"Origin": APP, "Access-Control-Request-Method": "put"}
    ),
    "preflight-no-method": other("OPTIONS", "/score", {"Origin": APP}),
    "preflight-health": other("OPTIONS", "/", {"Origin": APP, **PREFLIGHT}),
    "preflight-private-network": other(
        "OPTIONS",
        "/score",
        {"Origin": APP, **PREFLIGHT, "Access-Control-Request-Private-Network": "true"},
    ),
    "simple-post": post('{"case": "dict"}', {**JSON, "Origin": APP}),
    "simple-post-upper-case-origin": post("hello", {"Origin": APP.upper()}),
    "simple-post-other-origin": post('{"case": "dict"}', {**JSON, "Origin": OTHER}),
    "simple-post-no-origin": post('{"case": "dict"}', JSON),
    "simple-get-health": get("/", {"Origin": APP}),
    "simple-swagger": get("/swagger.json", {"Origin": APP}),
    "run-raises": post('{"case": "raise"}', {**JSON, "Origin": APP}),
    "run-sets-its-own": post('{"case": "aml_own_cors"}', {**JSON, "Origin": APP}),
    "request-id-too-long": post("hello", {"Origin": APP, "x-request-id": LONG_ID}),
    "unknown-path": get("/nope", {"Origin": APP}),
    "method-not-allowed": other("PUT", "/score", {"Origin": APP}),
}


@pytest.mark.parametrize("origins", list(CORS_ORIGINS))
@pytest.mark.parametrize("name", list(CORS_REQUESTS))
def test_cors_matches_azmlinfsrv(serve: Any, origins: str, name: str) -> None:
    serve("matrix.py", {"AML_CORS_ORIGINS": CORS_ORIGINS[origins]}).compare(CORS_REQUESTS[name])


def test_cors_cases_do_get_cors_headers(serve: Any) -> None:
    pair = serve("matrix.py", {"AML_CORS_ORIGINS": CORS_ORIGINS["two-origins"]})
    preflight = pair.compare(CORS_REQUESTS["preflight"])
    assert (preflight["status"], preflight["body"]) == (200, b"")
    assert preflight["headers"]["access-control-allow-origin"] == [APP]
    assert preflight["headers"]["access-control-allow-headers"] == ["Content-Type, authorization"]
    assert preflight["headers"]["vary"] == ["Origin"]
    assert (
        "access-control-allow-origin"
        not in pair.compare(CORS_REQUESTS["simple-post-other-origin"])["headers"]
    )


PANDAS_OK = {"data": [{"surface": 25, "city": "Lyon"}], "factor": 3}
DECORATED_REQUESTS = {
    "valid": post(json.dumps(PANDAS_OK), JSON),
    "valid-columns-dict": post(
        '{"data": {"surface": {"0": 25}, "city": {"0": "Lyon"}}, "factor": 2}', JSON
    ),
    "json-suffix-type": post(json.dumps(PANDAS_OK), {"Content-Type": "application/vnd.api+json"}),
    "json-with-charset": post(
        json.dumps(PANDAS_OK), {"Content-Type": "application/json; charset=utf-8"}
    ),
    "text-plain": post(json.dumps(PANDAS_OK), {"Content-Type": "text/plain"}),
    "no-content-type": post(json.dumps(PANDAS_OK)),
    "a-list": post("[1,2]", JSON),
    "bad-json": post("{bad", JSON),
    "empty": post(b"", JSON),
    "non-utf8": post(b"\xff", JSON),
    "missing-factor": post('{"data": [{"surface": 25, "city": "Lyon"}]}', JSON),
    "unconvertible": post('{"data": [{"surface": "abc", "city": "Lyon"}], "factor": 2}', JSON),
    "get-query": get('/score?data=[{"surface":25,"city":"Lyon"}]&factor=3'),
    "get-missing": get("/score?factor=3"),
    "options": other("OPTIONS", "/score"),
    "put": other("PUT", "/score"),
    "head": other("HEAD", "/score"),
    "swagger-2": get("/swagger.json?version=2"),
    "swagger-3": get("/swagger.json?version=3"),
    "swagger-3.1": get("/swagger.json?version=3.1"),
}


@pytest.mark.parametrize("name", list(DECORATED_REQUESTS))
def test_input_schema_decorated_matches_azmlinfsrv(serve: Any, name: str) -> None:
    serve("decorated.py").compare(DECORATED_REQUESTS[name])


NUMPY_REQUESTS = {
    "valid": post('{"data": [[1.0, 2.0, 3.0]], "scale": 2}', JSON),
    "default-param": post('{"data": [[1.0, 2.0, 3.0]]}', JSON),
    "wrong-shape": post('{"data": [1.0, 2.0]}', JSON),
    "wrong-dtype": post('{"data": [["a", "b", "c"]]}', JSON),
    "swagger-2": get("/swagger.json"),
    "swagger-3": get("/swagger.json?version=3"),
}


@pytest.mark.parametrize("name", list(NUMPY_REQUESTS))
def test_numpy_decorated_matches_azmlinfsrv(serve: Any, name: str) -> None:
    serve("decorated_numpy.py").compare(NUMPY_REQUESTS[name])


RAW_REQUESTS = {
    "get-args": get("/score?a=1&a=2&b=x"),
    "post-json": post('{"k": [1, 2]}', {**JSON, "X-Custom": "yes"}),
    "post-text": post("plain words", {"Content-Type": "text/plain"}),
    "binary-echo": post(
        b"\x00\x01\xff", {"Content-Type": "application/octet-stream"}, "/score?binary=1"
    ),
    "multipart": {
        "method": "POST",
        "url": "/score",
        "headers": {},
        "files": {"image": ("a.txt", b"file body", "text/plain")},
    },
    "options-reaches-run": other("OPTIONS", "/score"),
    "head-reaches-run": other("HEAD", "/score"),
    "put-is-405": other("PUT", "/score"),
    "swagger": get("/swagger.json"),
}


@pytest.mark.parametrize("name", list(RAW_REQUESTS))
def test_rawhttp_matches_azmlinfsrv(serve: Any, name: str) -> None:
    request = RAW_REQUESTS[name]
    if "files" in request:
        # the boundary is random: send the same bytes to both
        import httpx

        built = httpx.Request("POST", "http://x/score", files=request["files"])
        request = post(built.read(), {"Content-Type": built.headers["Content-Type"]})
    serve("rawhttp.py").compare(request)


USER_SWAGGER = {
    "swagger.json": json.dumps(
        {
            "swagger": "2.0",
            "info": {"title": "mine", "version": "9"},
            "paths": {},
            "x-order": [3, 1, 2],
        },
        indent=4,
    ),
    "swagger3.json": '{"openapi": "3.0.1", "info": {"title": "mine3"}, "paths": {}}',
}


@pytest.mark.parametrize("version", ["2", "3", "3.1", "2.0"])
def test_user_swagger_files_match_azmlinfsrv(serve: Any, version: str) -> None:
    serve("matrix.py", extra=USER_SWAGGER).compare(get(f"/swagger.json?version={version}"))


def test_service_path_prefix_in_generated_swagger_matches(serve: Any) -> None:
    pair = serve("matrix.py", {"SERVICE_PATH_PREFIX": "/api/v1/service/svc/"})
    for version in ("2", "3"):
        pair.compare(get(f"/swagger.json?version={version}"))


def _boot_exit_code(command: list[str], root: Path, timeout: float = 90) -> int:
    done = subprocess.run(
        command, cwd=root, env=environment(root, None), capture_output=True, timeout=timeout
    )
    return done.returncode


@pytest.mark.parametrize("script", ["init_fails.py", "no_run.py", "star_args.py"])
def test_boot_failures_exit_3_like_azmlinfsrv(
    ref_python: Path, tmp_path: Path, script: str
) -> None:
    root = lay_out(tmp_path / "app", script)
    launch = tmp_path / "launch.py"
    launch.write_text(LAUNCH)
    theirs = _boot_exit_code(
        [str(ref_python), str(launch), "--entry_script", "score.py", "--port", str(free_port())],
        root,
    )
    ours = _boot_exit_code(
        [
            str(ref_python),
            str(shim_dir() / "modelyard_entry_host.py"),
            "--entry-script",
            "score.py",
            "--port-file",
            str(tmp_path / "p"),
        ],
        root,
    )
    assert (ours, theirs) == (3, 3)
