"""Seed 003's entry script, with pickles replaced by plain files."""

import json

from azureml.core.model import Model


def init():
    global path_pipe, path_xgb
    path_pipe = Model.get_model_path("pipeline_processing")
    path_xgb = Model.get_model_path("modelML2")


def run(raw_data):
    data = json.loads(raw_data)["data"]
    with open(path_pipe) as a, open(path_xgb) as b:
        return json.dumps(
            {"rows": len(data), "pipe": a.read(), "xgb": b.read(), "paths": [path_pipe, path_xgb]}
        )
