"""ModelDataCollector from seed 003's closing paragraph."""

import json

from azureml.monitoring import ModelDataCollector


def init():
    global inputs_dc
    inputs_dc = ModelDataCollector(
        "churn",
        designation="inputs",
        feature_names=["age", "city"],
        webservice_name="svc",
        model_version="2",
    )


def run(raw_data):
    rows = json.loads(raw_data)["data"]
    context = inputs_dc.collect(rows)
    return {"context": context is not None, "path": inputs_dc.path()}
