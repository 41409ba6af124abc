"""Property-based "bad input is never a 5xx" tests against a real running server.

Two generators drive them:

- **schemathesis**, from the server's own documents: each endpoint's
  ``/endpoints/E/swagger.json`` (bodies built from the model's signature, valid and
  deliberately invalid), and the app's ``/openapi.json`` (FastAPI publishes no request body
  for the scoring routes, which read the raw body, so the test gives them an "any JSON"
  body before handing the document over);
- **hypothesis** directly, with protocol-shaped JSON (Azure ML v1, MLflow, classic, V2),
  raw and CSV bodies, and odd Content-Type headers.

Every answer must be below 500, and every 4xx a JSON object with a non-empty ``message``
(plus the protocol's own error keys where the route is one of the protocol routes). Rows
that fit the signature must score, with the same result on every protocol.

``MODELYARD_FUZZ_EXAMPLES`` scales the number of examples (default 1; 10 for a long run).
"""

from __future__ import annotations

import io
import json
import os
import string
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.helpers.endpoints import Served, churn_frame, json_documents, serving_immo_and_churn

# huge generated numbers overflow a linear model's product: a warning, and a null prediction
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

SCALE = max(1, int(os.environ.get("MODELYARD_FUZZ_EXAMPLES", "1")))
FUZZ = settings(
    max_examples=40 * SCALE,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

CHURN = ["CreditScore", "Geography", "Gender", "Age", "Balance"]
NAMES = ["surface", *CHURN, "input-0", "output-0", "data", ""]
DATATYPES = ["BOOL", "UINT8", "UINT64", "INT8", "INT32", "INT64", "FP16", "FP32", "FP64"]
DATATYPES += ["BYTES", "BF16", "STRING", "fp64"]
CLASSIC_QUERIES = [
    "api-version=2.0",
    "api-version=2.0&details=true",
    "api-version=2.0&format=swagger",
    "api-version=2.0&format=swagger&details=true",
    "api-version=2.0&details=maybe",
    "api-version=1.0",
    "api-version=2.0&format=xml",
    "",
]
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/json; format=pandas-split",
    "APPLICATION/JSON",
    "text/csv",
    "text/plain",
    "application/vnd.apache.parquet",
    "application/vnd.apache.arrow.stream",
    "application/octet-stream",
    "multipart/form-data; boundary=x",
    ";",
    "application/json; charset",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving_immo_and_churn(tmp_path_factory.mktemp("fuzz"), max_body_bytes=64 * 1024) as s:
        yield s


# --- what every answer must look like ------------------------------------------------------


def check_answer(response: Any, protocol: str | None = None) -> None:
    """Below 500; a 4xx is a JSON object with a message, in the protocol's shape."""
    status = response.status_code
    assert status < 500, f"{status} {response.text[:500]}"
    if status < 400:
        return
    content_type = response.headers.get("content-type") or ""
    if isinstance(content_type, list):  # schemathesis' Response keeps every value
        content_type = content_type[0]
    assert content_type.startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    message = body.get("message")
    assert isinstance(message, str) and message.strip(), body
    if status in (413, 429):  # refused by the limits middleware, before any route
        return
    if protocol == "mlflow":
        assert isinstance(body.get("error_code"), str) and body["error_code"], body
    elif protocol == "v2":  # what tritonclient reads
        assert isinstance(body.get("error"), str) and body["error"].strip(), body
    elif protocol == "classic":
        envelope = body["error"]
        assert envelope["code"] and envelope["message"], body
        assert envelope["details"][0]["code"] and envelope["details"][0]["message"], body


def _post(
    served: Served,
    endpoint: str,
    route: str,
    *,
    body: Any = None,
    content: bytes | None = None,
    content_type: str | None = "application/json",
    query: str = "",
) -> httpx.Response:
    url = {
        "score": f"{served.base}/endpoints/{endpoint}/score",
        "invocations": f"{served.base}/endpoints/{endpoint}/invocations",
        "execute": f"{served.base}/endpoints/{endpoint}/execute?{query}",
        "infer": f"{served.base}/v2/models/{endpoint}/infer",
    }[route]
    headers = served.auth(endpoint)
    if content_type is not None:
        headers["Content-Type"] = content_type
    if content is None:
        content = json.dumps(body).encode()
    return httpx.post(url, content=content, headers=headers, timeout=30)


PROTOCOL = {"score": "azure", "invocations": "mlflow", "execute": "classic", "infer": "v2"}


# --- schemathesis ----------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["immo", "churn"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_on_each_endpoints_swagger(
    served: Served, endpoint: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{served.base}/endpoints/{endpoint}/swagger.json")
    operation = schema[f"/endpoints/{endpoint}/score"]["POST"]

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=served.base, headers=served.auth(endpoint), timeout=30)
        case.validate_response(response, checks=[not_a_server_error])
        check_answer(response)
        rows = case.body.get("data") if isinstance(case.body, dict) else None
        if (
            mode is GenerationMode.POSITIVE
            and endpoint == "immo"
            and case.media_type == ("application/json")
        ):
            # any number is a surface: schema-valid JSON with rows must score, unless a
            # surface so large that the price overflows (a 422 naming the row)
            expected = 200 if rows else 400
            if response.status_code == 422 and _huge(rows):
                assert response.json()["code"] == "prediction_not_finite", response.text
                return
            assert response.status_code == expected, response.text

    run()


def _huge(value: Any) -> bool:
    """Whether a number in ``value`` (rows of any shape) is large enough to overflow a
    linear model's prediction."""
    if isinstance(value, dict):
        return any(_huge(v) for v in value.values())
    if isinstance(value, list):
        return any(_huge(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > 1e300


SCORING_ROUTES = [
    "/endpoints/{name}/score",
    "/endpoints/{name}/invocations",
    "/endpoints/{name}/execute",
    "/v2/models/{name}/infer",
    "/v2/models/{name}/versions/{version}/infer",
]


def with_any_json_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """The app's OpenAPI ``document`` with "any JSON" bodies on the scoring routes (which
    publish none: each takes several formats) and classic's query parameters."""
    assert set(SCORING_ROUTES) <= set(document["paths"])
    for path in SCORING_ROUTES:
        post = document["paths"][path]["post"]
        assert "requestBody" not in post  # if FastAPI starts publishing one, use it as is
        post["requestBody"] = {"required": True, "content": {"application/json": {"schema": {}}}}
    execute = document["paths"]["/endpoints/{name}/execute"]["post"]
    execute["parameters"] += [
        {"name": "api-version", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "details", "in": "query", "schema": {"type": "string"}},
        {"name": "format", "in": "query", "schema": {"type": "string"}},
    ]
    return document


@pytest.fixture(scope="module")
def app_schema(served: Served) -> Any:
    """The app's own OpenAPI document, with "any JSON" bodies and classic's query."""
    document = httpx.get(f"{served.base}/openapi.json").json()
    return schemathesis.openapi.from_dict(with_any_json_bodies(document))


@pytest.mark.parametrize("path", SCORING_ROUTES)
@pytest.mark.parametrize("endpoint", ["immo", "churn"])
def test_schemathesis_on_the_apps_openapi_with_any_json_bodies(
    served: Served, app_schema: Any, path: str, endpoint: str
) -> None:
    operation = app_schema[path]["POST"]
    fixed = {"name": endpoint, **({"version": "1"} if "{version}" in path else {})}
    route = next(r for r in PROTOCOL if path.endswith(r) or f"/{r}" in path)

    @settings(FUZZ, max_examples=15 * SCALE)
    @given(case=operation.as_strategy(path_parameters=fixed))
    def run(case: Any) -> None:
        response = case.call(base_url=served.base, headers=served.auth(endpoint), timeout=30)
        case.validate_response(response, checks=[not_a_server_error])
        check_answer(response, PROTOCOL[route])

    run()


def test_schemathesis_on_the_apps_openapi_with_any_endpoint_name(
    served: Served, app_schema: Any
) -> None:
    """Names with slashes, percent signs, dots or unicode: a 401/404, never a 500."""
    operations = [app_schema[path]["POST"] for path in SCORING_ROUTES]
    strategy = st.one_of(*(op.as_strategy() for op in operations))

    @settings(FUZZ, max_examples=40 * SCALE)
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(base_url=served.base, headers=served.auth("immo"), timeout=30)
        case.validate_response(response, checks=[not_a_server_error])
        check_answer(response)

    run()


# --- hypothesis: protocol-shaped documents ---------------------------------------------------

names = st.sampled_from(NAMES) | st.text(max_size=4)
cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["France", "Germany", "Spain", "Male", "Female", "25", "1e3", "-0", "nan"]),
    st.sampled_from(["inf", "0x10", "True", "", " 12 ", "2020-01-01", "1_000"]),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
rows = st.lists(st.lists(cells, max_size=6), max_size=4)
records = st.lists(st.dictionaries(names, cells, max_size=6), max_size=4)
# records with every churn column, so that decoding gets past "missing column"
full_records = st.lists(st.fixed_dictionaries(dict.fromkeys(CHURN, cells)), min_size=1, max_size=3)
anything = json_documents()

azure_bodies = st.fixed_dictionaries({"data": rows | records | full_records | cells})
mlflow_bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "dataframe_split": st.fixed_dictionaries(
                {"columns": st.lists(names, max_size=6) | st.just(CHURN), "data": rows},
                optional={"index": st.lists(cells, max_size=4) | cells},
            )
            | anything
        },
        optional={"params": anything},
    ),
    st.fixed_dictionaries({"dataframe_records": records | full_records | anything}),
    st.fixed_dictionaries({"instances": rows | records | full_records | anything}),
    st.fixed_dictionaries(
        {"inputs": st.dictionaries(names, st.lists(cells, max_size=4) | cells, max_size=6) | rows}
    ),
)
tables = st.fixed_dictionaries(
    {"ColumnNames": st.lists(names, max_size=6) | st.just(CHURN) | cells, "Values": rows | cells}
)
classic_bodies = st.fixed_dictionaries(
    {
        "Inputs": st.dictionaries(
            st.sampled_from(["input1", "input2", ""]) | st.text(max_size=3),
            tables | records | full_records | cells,
            max_size=2,
        )
        | cells
    },
    optional={"GlobalParameters": st.just({}) | st.dictionaries(names, cells, max_size=2) | cells},
)
tensors = st.fixed_dictionaries(
    {
        "name": names,
        "shape": st.lists(st.integers(-2, 5), max_size=3) | cells,
        "datatype": st.sampled_from(DATATYPES) | cells,
        "data": st.lists(cells | st.lists(cells, max_size=3), max_size=6) | cells,
    },
    optional={
        "parameters": st.fixed_dictionaries(
            {}, optional={"content_type": st.sampled_from(["str", "np", 1]), "x": cells}
        )
        | cells
    },
)
v2_bodies = st.fixed_dictionaries(
    {"inputs": st.lists(tensors, max_size=6) | cells},
    optional={
        "id": cells,
        "parameters": st.fixed_dictionaries(
            {}, optional={"content_type": st.sampled_from(["pd", "np", "str"]) | cells}
        )
        | cells,
        "outputs": st.lists(
            st.fixed_dictionaries(
                {"name": names}, optional={"parameters": st.dictionaries(names, cells, max_size=2)}
            )
            | cells,
            max_size=2,
        )
        | cells,
    },
)
BODIES: dict[str, st.SearchStrategy[Any]] = {
    "score": azure_bodies | mlflow_bodies | anything,
    "invocations": mlflow_bodies | azure_bodies | anything,
    "execute": classic_bodies | anything,
    "infer": v2_bodies | anything,
}


@pytest.mark.parametrize("route", list(PROTOCOL))
@pytest.mark.parametrize("endpoint", ["immo", "churn"])
def test_protocol_shaped_json_never_gets_a_5xx(served: Served, route: str, endpoint: str) -> None:
    @FUZZ
    @given(body=BODIES[route], query=st.sampled_from(CLASSIC_QUERIES))
    def run(body: Any, query: str) -> None:
        check_answer(_post(served, endpoint, route, body=body, query=query), PROTOCOL[route])

    run()


header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
header_text = header_text.filter(lambda value: value == value.strip())  # what HTTP can carry


@FUZZ
@given(
    route=st.sampled_from(list(PROTOCOL)),
    content_type=st.sampled_from(CONTENT_TYPES) | header_text,
    body=azure_bodies | mlflow_bodies | classic_bodies | v2_bodies,
)
def test_any_content_type_header_never_gets_a_5xx(
    served: Served, route: str, content_type: str | None, body: Any
) -> None:
    answer = _post(
        served, "immo", route, body=body, content_type=content_type, query="api-version=2.0"
    )
    check_answer(answer, PROTOCOL[route])


csv_cells = st.sampled_from([*NAMES, "25", "1e400", "nan", "inf", '"', '""', "a,b", ""])
csv_cells = csv_cells | st.text(alphabet=string.printable, max_size=5)
csv_bodies = st.lists(st.lists(csv_cells, min_size=1, max_size=5), max_size=5).map(
    lambda table: "\n".join(",".join(row) for row in table).encode()
)


@FUZZ
@given(
    route=st.sampled_from(list(PROTOCOL)),
    content_type=st.sampled_from(CONTENT_TYPES),
    content=csv_bodies | st.binary(max_size=200) | st.text(max_size=50).map(str.encode),
    endpoint=st.sampled_from(["immo", "churn"]),
)
def test_raw_and_csv_bodies_never_get_a_5xx(
    served: Served, route: str, content_type: str | None, content: bytes, endpoint: str
) -> None:
    answer = _post(
        served, endpoint, route, content=content, content_type=content_type, query="api-version=2.0"
    )
    check_answer(answer, PROTOCOL[route])


ARROW_COLUMNS: list[Callable[[int], pa.Array]] = [
    lambda n: pa.array(range(n)),
    lambda n: pa.array([1.5] * n),
    lambda n: pa.array(["France"] * n),
    lambda n: pa.array([True] * n),
    lambda n: pa.array([None] * n),
    lambda n: pa.array([[1, 2]] * n),
    lambda n: pa.array([{"a": 1}] * n),
    lambda n: pa.array([b"\xff"] * n),
    lambda n: pa.array([pd.Timestamp("2020-01-01")] * n),
    lambda n: pa.array([2**64 - 1] * n, pa.uint64()),
    lambda n: pa.array(["Spain"] * n).dictionary_encode(),
]


@FUZZ
@given(
    columns=st.lists(
        st.tuples(names, st.integers(0, len(ARROW_COLUMNS) - 1)), min_size=1, max_size=6
    ),
    length=st.integers(0, 3),
    parquet=st.booleans(),
    route=st.sampled_from(["score", "invocations"]),
    endpoint=st.sampled_from(["immo", "churn"]),
)
def test_parquet_and_arrow_tables_of_any_types_never_get_a_5xx(
    served: Served,
    columns: list[tuple[str, int]],
    length: int,
    parquet: bool,
    route: str,
    endpoint: str,
) -> None:
    arrays = [ARROW_COLUMNS[kind](length) for _, kind in columns]
    table = pa.Table.from_arrays(arrays, names=[name for name, _ in columns])
    buffer = io.BytesIO()
    if parquet:
        pq.write_table(table, buffer)
        content_type = "application/vnd.apache.parquet"
    else:
        with pa.ipc.new_stream(buffer, table.schema) as writer:
            writer.write_table(table)
        content_type = "application/vnd.apache.arrow.stream"
    answer = _post(served, endpoint, route, content=buffer.getvalue(), content_type=content_type)
    check_answer(answer, PROTOCOL[route])


@pytest.mark.parametrize("route", ["score", "invocations"])
@pytest.mark.parametrize("kind", ["csv", "parquet", "arrow"])
def test_a_column_sent_twice_is_a_400(served: Served, route: str, kind: str) -> None:
    """Found by this module: pyarrow keeps duplicated column names, and reading one by
    name raised KeyError, a 500."""
    table = pa.Table.from_arrays([pa.array([1.0]), pa.array([2.0])], names=["surface"] * 2)
    buffer = io.BytesIO()
    if kind == "csv":
        buffer.write(b"surface,surface\n1,2\n")
        content_type = "text/csv"
    elif kind == "parquet":
        pq.write_table(table, buffer)
        content_type = "application/vnd.apache.parquet"
    else:
        with pa.ipc.new_stream(buffer, table.schema) as writer:
            writer.write_table(table)
        content_type = "application/vnd.apache.arrow.stream"
    if route == "invocations" and kind == "arrow":
        pytest.skip("MLflow takes no Arrow stream")
    answer = _post(served, "immo", route, content=buffer.getvalue(), content_type=content_type)
    assert answer.status_code == 400, answer.text
    assert "surface" in answer.json()["message"]


@pytest.mark.parametrize("datatype", [["FP64"], {"FP64": 1}, None, 64])
def test_a_datatype_that_is_not_a_string_is_a_400(served: Served, datatype: Any) -> None:
    """Found by this module: a list or object as datatype raised TypeError (unhashable)
    in the datatype lookup, a 500."""
    body = {"inputs": [{"name": "input-0", "shape": [1, 1], "datatype": datatype, "data": [1]}]}
    answer = _post(served, "immo", "infer", body=body, content_type=None)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "bad_tensor" and "datatype" in answer.json()["error"]


# --- rows that fit the signature score, alike on every protocol ------------------------------

churn_rows = st.lists(
    st.fixed_dictionaries(
        {
            "CreditScore": st.integers(300, 900),
            "Geography": st.sampled_from(["France", "Germany", "Spain"]),
            "Gender": st.sampled_from(["Female", "Male"]),
            "Age": st.integers(18, 95),
            "Balance": st.floats(0, 250_000, allow_nan=False).map(lambda v: round(v, 2)),
        }
    ),
    min_size=1,
    max_size=4,
)


@settings(FUZZ, max_examples=10 * SCALE)
@given(rows=churn_rows)
def test_valid_rows_score_the_same_on_every_protocol(
    served: Served, rows: list[dict[str, Any]]
) -> None:
    frame = pd.DataFrame(rows, columns=CHURN)
    values = frame.to_numpy(dtype=object).tolist()
    answers = {
        "score": _post(served, "churn", "score", body={"data": values}),
        "invocations": _post(
            served, "churn", "invocations", body={"dataframe_split": frame.to_dict("split")}
        ),
        "execute": _post(
            served,
            "churn",
            "execute",
            body={
                "Inputs": {
                    "input1": {
                        "ColumnNames": CHURN,
                        "Values": [[str(v) for v in r] for r in values],
                    }
                },
                "GlobalParameters": {},
            },
            query="api-version=2.0",
        ),
        "infer": _post(
            served,
            "churn",
            "infer",
            content_type=None,
            body={
                "parameters": {"content_type": "pd"},
                "inputs": [
                    {
                        "name": name,
                        "shape": [len(frame)],
                        "datatype": "BYTES" if name in ("Geography", "Gender") else "FP64",
                        "data": frame[name].tolist(),
                    }
                    for name in CHURN
                ],
            },
        ),
    }
    for route, answer in answers.items():
        assert answer.status_code == 200, (route, answer.text)
    score = np.asarray(answers["score"].json()["predictions"])
    assert score.shape == (len(frame), 2)
    assert np.allclose(answers["invocations"].json()["predictions"], score)
    table = answers["execute"].json()["Results"]["output1"]["value"]["Values"]
    assert np.allclose([float(r[-1]) for r in table], score[:, 1])
    (output,) = answers["infer"].json()["outputs"]
    assert np.allclose(np.reshape(output["data"], output["shape"]), score)


def test_the_helpers_frames_fit_the_generators() -> None:
    """``churn_rows`` above draws from the same domain as the served model's training data."""
    frame, _ = churn_frame(rows=50)
    assert list(frame.columns) == CHURN
    assert set(frame["Geography"]) <= {"France", "Germany", "Spain"}


def _churn_row(**values: Any) -> dict[str, Any]:
    row = {"CreditScore": 600, "Geography": "France", "Gender": "Male", "Age": 40, "Balance": 1.0}
    return {"data": [{**row, **values}]}


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("immo", {"data": [["nan"]]}),
        ("churn", _churn_row(CreditScore=2**63)),
        ("churn", _churn_row(CreditScore=1e300)),
        ("churn", _churn_row(CreditScore="inf")),
        ("churn", _churn_row(Balance="nan")),
    ],
)
def test_numbers_a_column_cannot_hold_are_a_422(
    served: Served, endpoint: str, body: dict[str, Any]
) -> None:
    answer = _post(served, endpoint, "score", body=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "bad_value"
