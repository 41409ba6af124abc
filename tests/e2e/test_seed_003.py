"""Seed 003 end to end: the notebook with only its imports changed, its entry script and
its client verbatim, against a real ``modelyard serve`` that builds the environment.

Differences from the article, each forced by time and not by modelyard: the pipeline and
the model are trained here on the demo churn data; the environment pins the scikit-learn
the pickles were made with here (the article pinned 0.22.1, which has no build for this
Python); the client's URL is the service's scoring URI. The notebook declares scikit-learn
and xgboost only, as the article does: pandas, which the entry script imports, comes with
the environment as it came with Azure's inference base image.
"""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sklearn
import xgboost
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelyard import Workspace
from modelyard.training.demo_data import CHURN_CATEGORICAL, CHURN_NUMERIC
from modelyard.training.demo_data import churn as churn_data
from tests.helpers.processes import Process, started
from tests.helpers.server import free_port

COLUMNS = [
    "CreditScore", "Geography", "Gender", "Age", "Tenure", "Balance", "NumOfProducts",
    "HasCrCard", "IsActiveMember", "EstimatedSalary",
]  # fmt: skip

# The article's entry script, character for character (its indentation restored).
ENTRY_SCRIPT = """\
import json
import pickle
import joblib
import numpy as np
import pandas as pd
from azureml.core.model import Model

def init():
    global model_pipe
    global model_xgb
        
    model_path1 = Model.get_model_path('pipeline_processing')
    model_pipe = joblib.load(model_path1)
    model_path2 = Model.get_model_path('modelML2')
    model_xgb = pickle.load(open(model_path2, "rb"))


def run(raw_data):
    data = np.array(json.loads(raw_data)['data'])
    df = pd.DataFrame(data ,columns=["CreditScore", "Geography", "Gender", "Age", "Tenure", "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary"])  
    predictions = model_xgb.predict_proba(model_pipe.transform(df))
    return json.dumps(predictions.tolist())
"""  # noqa: W291, W293, E501

# The article's notebook cells; only the imports changed (azureml -> modelyard.compat.azureml),
# and scikit-learn is pinned to this machine's version (see the module docstring).
NOTEBOOK = """
from joblib import dump
import pickle

dump(pipe_preprocessing, 'pipeline_processing.pkl')
pickle.dump(xgb_model, open("modelML2.pkl", "wb"))

from modelyard.compat.azureml.core import Workspace
ws = Workspace.from_config()

from modelyard.compat.azureml.core.model import Model

model1 = Model.register(model_path="./pipeline_processing.pkl",
                    model_name="pipeline_processing",
                    workspace=ws)

model2 = Model.register(model_path="./modelML2.pkl",
                    model_name="modelML2",
                    workspace=ws)

from modelyard.compat.azureml.core.conda_dependencies import CondaDependencies 

myenv = CondaDependencies()
myenv.add_conda_package('scikit-learn=' + sklearn_version)
myenv.add_conda_package('xgboost')

env_file = os.path.join(folder_name,"scoring_env.yml")
with open(env_file,"w") as f:
    f.write(myenv.serialize_to_string())

from modelyard.compat.azureml.core.webservice import AciWebservice
from modelyard.compat.azureml.core.model import InferenceConfig
from modelyard.compat.azureml.core import Model

inference_config = InferenceConfig(runtime= "python",
                                   entry_script=script_file,
                                   conda_file=env_file)

deployment_config = AciWebservice.deploy_configuration(cpu_cores = 1, memory_gb = 1)

service_name = "first-scoring-service"

service = Model.deploy(ws, service_name, [model1, model2], inference_config, deployment_config)

service.wait_for_deployment(True)
print(service.state)

endpoint = service.scoring_uri
print(endpoint)
"""  # noqa: W291

DELETE = """
service = ws.webservices['first-scoring-service']
service.delete()
"""


@pytest.fixture
def notebook_folder(tmp_path: Path) -> Iterator[tuple[Path, Process]]:
    """A workspace whose scoring server runs, as the cwd of the "notebook"."""
    port = free_port()
    Workspace.init(tmp_path).close()
    config = tmp_path / "modelyard.toml"
    config.write_text(
        config.read_text().replace(
            'url = "http://127.0.0.1:8080"', f'url = "http://127.0.0.1:{port}"'
        )
    )
    env = {"MODELYARD_ENV_CACHE": str(tmp_path / "envs")}
    with started(tmp_path, "serve", "--port", str(port), env=env) as server:
        server.wait_ready(f"http://127.0.0.1:{port}")
        yield tmp_path, server


def test_seed_003_runs_with_only_its_imports_changed(
    notebook_folder: tuple[Path, Process], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, server = notebook_folder
    monkeypatch.chdir(folder)
    frame = churn_data(600, seed=3)
    target = frame.pop("Exited")
    pipe_preprocessing = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(), list(CHURN_CATEGORICAL)),
            ("scale", StandardScaler(), list(CHURN_NUMERIC)),
        ]
    ).fit(frame[COLUMNS])
    xgb_model = xgboost.XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1)
    xgb_model.fit(pipe_preprocessing.transform(frame[COLUMNS]), target)

    folder_name = str(folder / "deployment")
    os.makedirs(folder_name, exist_ok=True)
    script_file = os.path.join(folder_name, "score.py")
    Path(script_file).write_text(ENTRY_SCRIPT)  # the notebook's %%writefile $script_file
    notebook = {
        "os": os,
        "pipe_preprocessing": pipe_preprocessing,
        "xgb_model": xgb_model,
        "folder_name": folder_name,
        "script_file": script_file,
        "sklearn_version": sklearn.__version__,
    }
    exec(NOTEBOOK, notebook)  # the article's cells, imports changed
    service = notebook["service"]
    assert service.state == "Healthy", service.get_logs() + server.output()
    endpoint = notebook["endpoint"]
    assert endpoint.endswith("/endpoints/first-scoring-service/score")

    # -- "Requetâge du modèle": the client, in its own world ------------------------------
    predicted_classes = _seed_client(endpoint)

    row = pd.DataFrame(
        [[596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]], columns=COLUMNS
    )
    expected = xgb_model.predict_proba(pipe_preprocessing.transform(row)).tolist()
    assert predicted_classes == expected
    assert len(predicted_classes[0]) == 2 and abs(sum(predicted_classes[0]) - 1) < 1e-6
    logs = service.get_logs()
    assert "reused the cached environment" not in logs and "ready on 127.0.0.1" in logs
    assert "added numpy, pandas: azureml-inference 2021.05" in logs

    # -- the environment is published for the other replicas (tests/e2e/test_shared_wheels) -
    envs = folder / "envs"
    with Workspace.from_config(folder, env={"MODELYARD_ENV_CACHE": str(envs)}) as ws:
        [built] = ws.environments.list()
    assert built.where == "here + store" and "pandas" in built.requirements
    assert built.published is not None and built.published.wheels >= 6

    # -- "On peut aussi supprimer le web service" -----------------------------------------
    exec(DELETE, notebook)
    deadline = time.monotonic() + 5
    while (answer := httpx.post(endpoint, json={"data": [[596]]})).status_code != 404:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.1)


def _seed_client(endpoint: str) -> list[list[float]]:
    """The article's client code, verbatim but for the URL it is given."""
    scope: dict[str, object] = {"endpoint": endpoint}
    exec(  # the article's own code, run as written
        textwrap.dedent(
            """
            import requests
            import json

            x_new = [[596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]]

            input_json = json.dumps({"data": x_new})

            headers = { 'Content-Type':'application/json' }

            predictions = requests.post(endpoint, input_json, headers = headers)
            predicted_classes = json.loads(predictions.json())

            print(predicted_classes)
            """
        ),
        scope,
    )
    result = scope["predicted_classes"]
    assert isinstance(result, list)
    return result
