"""Undecorated run(raw_data): the body (or ?case=) names what run() returns or does."""

import json
import time

import numpy as np
import pandas as pd
from azureml.contrib.services.aml_response import AMLResponse

CASES = {
    "seed003": lambda raw: json.dumps([250.0]),
    "hello": lambda raw: "hello",
    "empty": lambda raw: "",
    "unicode": lambda raw: "prix 25 m\u00b2",
    "dict": lambda raw: {"a": 1, "b": [1, 2]},
    "list": lambda raw: [1, 2, 3],
    "tuple": lambda raw: (1, 2),
    "int": lambda raw: 42,
    "np_float": lambda raw: np.float64(1.5),
    "bool": lambda raw: True,
    "none": lambda raw: None,
    "nan": lambda raw: {"x": float("nan")},
    "np_array": lambda raw: np.array([1.0, 2.0]),
    "dataframe": lambda raw: pd.DataFrame({"a": [1]}),
    "bytes": lambda raw: b"raw",
    "aml_json": lambda raw: AMLResponse({"custom": True}, 422, {"X-Custom": "1"}, json_str=True),
    "aml_text": lambda raw: AMLResponse("plain text body", 200, {"Content-Type": "text/plain"}),
    "aml_503": lambda raw: AMLResponse("bad", 503),
    "aml_none": lambda raw: AMLResponse(None, 201),
    "aml_bytes": lambda raw: AMLResponse(b"\x89PNG\x00", 200, {"Content-Type": "image/png"}),
    "aml_multi": lambda raw: AMLResponse("m", 200, {"X-Multi": "a, b,c", "X-One": "1"}),
    "aml_lower_ct": lambda raw: AMLResponse("x", 200, {"content-type": "text/plain"}),
    "aml_int_header": lambda raw: AMLResponse("x", 200, {"X-N": 5}),
    "aml_own_cors": lambda raw: AMLResponse(
        "x", 200, {"Access-Control-Allow-Origin": "https://mine.example"}
    ),
    "echo": lambda raw: raw,
}


def init():
    print("matrix init")


def run(raw_data, request_headers):
    if raw_data.startswith("{"):
        data = json.loads(raw_data)
        case = data.get("case", "echo")
        if isinstance(case, list):
            case = "echo"
    else:
        case = (
            raw_data
            if raw_data in CASES or raw_data in ("raise", "sleep", "nap", "headers")
            else "echo"
        )
    if case == "raise":
        raise ValueError("boom")
    if case == "sleep":
        time.sleep(5)
        return "slept"
    if case == "nap":
        print("napping", flush=True)  # a test may wait for it: the request is in flight
        time.sleep(0.4)
        return "napped"
    if case == "headers":
        wanted = ("X-Custom", "Content-Type", "X-Ms-Client-Request-Id")
        return {k: request_headers.get(k) for k in wanted}
    return CASES[case](raw_data)
