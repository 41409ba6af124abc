"""An endpoint names its outputs (``--output-names``, the SDK, PATCH): every wire format
that names outputs uses those names, and the defaults stay as they were without them.
Seed 000's classic client reads ``Values[0][ColumnNames.index("result")]``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.helpers.endpoints import Served, immo_predictions, serving_immo_and_churn

CLASSIC = {"Inputs": {"input1": {"ColumnNames": ["surface"], "Values": [["25"]]}}}
V2 = {"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [1, 1], "data": [25.0]}]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving_immo_and_churn(tmp_path_factory.mktemp("names")) as served:
        created = served.ws.endpoints.create(
            "named", model="immo@champion", output_names=["result"]
        )
        assert created.output_names == ("result",)
        served.keys["named"] = (created.keys or {})["primary"]
        served.wait_served("named")
        yield served


def _post(served: Served, endpoint: str, path: str, body: Any) -> dict[str, Any]:
    answer = httpx.post(
        f"{served.base}{path.format(e=endpoint)}", json=body, headers=served.auth(endpoint)
    )
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def test_every_format_uses_the_endpoints_output_names(served: Served) -> None:
    want = immo_predictions(25.0)[0]
    table = _post(served, "named", "/endpoints/{e}/execute?api-version=2.0", CLASSIC)
    value = table["Results"]["output1"]["value"]
    assert float(value["Values"][0][value["ColumnNames"].index("result")]) == pytest.approx(want)
    rows = _post(served, "named", "/endpoints/{e}/execute?api-version=2.0&format=swagger", CLASSIC)
    assert float(rows["Results"]["output1"][0]["result"]) == pytest.approx(want)
    v2 = _post(served, "named", "/v2/models/{e}/infer", {**V2, "outputs": [{"name": "result"}]})
    assert v2["outputs"][0]["name"] == "result"
    metadata = httpx.get(f"{served.base}/v2/models/named", headers=served.auth("named")).json()
    assert metadata["outputs"][0]["name"] == "result"
    azure = _post(served, "named", "/endpoints/{e}/score", {"data": [[25.0]]})
    assert azure["predictions"] == [{"result": pytest.approx(want)}]
    mlflow = _post(served, "named", "/endpoints/{e}/invocations", {"inputs": {"surface": [25]}})
    assert mlflow["predictions"] == [{"result": pytest.approx(want)}]
    refused = httpx.post(
        f"{served.base}/v2/models/named/infer",
        json={**V2, "outputs": [{"name": "output-0"}]},
        headers=served.auth("named"),
    )
    assert refused.status_code == 400 and refused.json()["code"] == "unknown_output"


def test_the_defaults_stay_without_names(served: Served) -> None:
    table = _post(served, "immo", "/endpoints/{e}/execute?api-version=2.0", CLASSIC)
    assert table["Results"]["output1"]["value"]["ColumnNames"] == ["surface", "Scored Labels"]
    assert _post(served, "immo", "/v2/models/{e}/infer", V2)["outputs"][0]["name"] == "output-0"
    azure = _post(served, "immo", "/endpoints/{e}/score", {"data": [[25.0]]})
    assert azure["predictions"] == [pytest.approx(immo_predictions(25.0)[0])]


def test_patch_names_and_clears_the_outputs(served: Served) -> None:
    created = served.ws.endpoints.create("renamed", model="immo@champion")
    assert created.output_names == ()
    named = served.ws.endpoints.name_outputs("renamed", ["price"])
    assert named.output_names == ("price",)
    assert served.ws.endpoints.name_outputs("renamed", []).output_names == ()
    with pytest.raises(Exception, match="distinct and non-blank"):
        served.ws.endpoints.name_outputs("renamed", ["a", "a"])
