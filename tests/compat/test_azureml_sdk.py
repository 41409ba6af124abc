"""``modelyard.compat.azureml``: the Azure ML SDK v1 names behave as Azure code expects."""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.compat.azureml.core import (
    AksWebservice,
    CondaDependencies,
    Environment,
    InferenceConfig,
    Model,
    Webservice,
    Workspace,
)
from modelyard.compat.azureml.core.webservice import AciWebservice
from modelyard.compat.azureml.exceptions import (
    ModelNotFoundException,
    UserErrorException,
    WebserviceException,
)
from modelyard.deployments.env.requirements import Requirements
from modelyard.web.app import create_app
from modelyard.workspace.root import Workspace as ModelyardWorkspace
from tests.helpers.server import free_port, running

ECHO = """
import json
from azureml.core.model import Model

def init():
    global path
    path = Model.get_model_path("factor")

def run(raw_data):
    return {"got": json.loads(raw_data), "path": path.split("azureml-models/")[1]}
"""


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.chdir(tmp_path)
    ModelyardWorkspace.init(tmp_path).close()
    opened = Workspace.from_config()
    yield opened
    opened.modelyard.close()


def test_conda_dependencies_write_azures_yaml_and_read_it_back(tmp_path: Path) -> None:
    deps = CondaDependencies()
    deps.add_conda_package("scikit-learn=0.22.1")
    deps.add_conda_package("xgboost")
    deps.add_conda_package("scikit-learn=1.5.2")  # replaces the first, by name
    deps.add_pip_package("inference-schema[numpy-support]==1.8")
    text = deps.serialize_to_string()
    assert "name: project_environment" in text and "- azureml-defaults" in text
    assert deps.conda_packages == ["xgboost", "scikit-learn=1.5.2"]
    deps.save(tmp_path / "env.yml")
    again = CondaDependencies(tmp_path / "env.yml")
    assert again.conda_packages == deps.conda_packages
    assert again.pip_packages == deps.pip_packages
    requirements = Requirements.from_conda_yaml(text)
    assert "scikit-learn==1.5.2" in requirements.lines and "xgboost" in requirements.lines
    assert not any(line.startswith("azureml") for line in requirements.lines)


def test_environment_gives_requirements_or_none_when_user_managed(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("scikit-learn==1.5.2\n")
    pip_env = Environment.from_pip_requirements("pip-env", tmp_path / "requirements.txt")
    assert pip_env.requirements() == Requirements.from_requirements_text("scikit-learn==1.5.2")
    conda = Environment("conda-env")
    conda.python.conda_dependencies = CondaDependencies.create(conda_packages=["xgboost"])
    built = conda.requirements()
    assert built is not None and {"xgboost", "numpy", "pandas"} <= set(built.lines)  # Azure's
    assert pip_env.requirements() is not None and "pandas" not in str(pip_env.requirements())
    conda.python.user_managed_dependencies = True
    assert conda.requirements() is None


def test_inference_config_refuses_what_modelyard_cannot_run() -> None:
    with pytest.raises(UserErrorException, match="entry_script"):
        InferenceConfig()
    with pytest.raises(UserErrorException, match="runtime"):
        InferenceConfig(entry_script="score.py", runtime="spark-py")
    with pytest.raises(UserErrorException, match="not both"):
        InferenceConfig(entry_script="s.py", conda_file="e.yml", environment=Environment("e"))


def test_deploy_configurations_keep_azures_defaults() -> None:
    aci = AciWebservice.deploy_configuration()
    aks = AksWebservice.deploy_configuration(cpu_cores=2, num_replicas=3)
    assert (aci.cpu_cores, aci.memory_gb, aci.auth_enabled) == (0.1, 0.5, False)
    assert (aks.cpu_cores, aks.auth_enabled, aks.ignored["num_replicas"]) == (2, True, 3)


def test_register_keeps_pickles_as_admin_consent_and_records_packages(
    ws: Workspace, tmp_path: Path
) -> None:
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"a": 1}))
    first = Model.register(ws, model_path="model.pkl", model_name="m")
    second = Model.register(ws, model_path="./model.pkl", model_name="m", tags={"k": "v"})
    assert (first.id, second.id, second.tags) == ("m:1", "m:2", {"k": "v"})
    version = ws.modelyard.models.get("m", version=2)
    assert version.allow_pickle and "scikit-learn" in version.lineage["packages"]
    assert [m.id for m in Model.list(ws, name="m", latest=True)] == ["m:2"]
    assert Model(ws, "m").version == 2 and Model(ws, id="m:1").version == 1
    with pytest.raises(ModelNotFoundException):
        Model(ws, "nope")
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01")
    assert Model.register(ws, model_path="notes.bin", model_name="blob").version == 1


def test_get_model_path_follows_azures_local_rules(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(1))
    Model.register(ws, model_path="model.pkl", model_name="m")
    downloaded = Model.get_model_path("m", _workspace=ws)
    assert downloaded == os.path.join("azureml-models", "m", "1", "model.pkl")
    assert Path(downloaded).read_bytes() == (tmp_path / "model.pkl").read_bytes()
    monkeypatch.setenv("AML_APP_ROOT", str(tmp_path))
    assert Model.get_model_path("m") == str(tmp_path / "azureml-models" / "m" / "1" / "model.pkl")
    assert Model.get_model_path("model.pkl") == "model.pkl"  # the working-directory fallback
    with pytest.raises(WebserviceException, match="version should be an int"):
        Model.get_model_path("m", version="1")  # type: ignore[arg-type]
    with pytest.raises(ModelNotFoundException):
        Model.get_model_path("missing")


def test_a_service_with_keys_is_called_managed_and_deleted(ws: Workspace, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "modelyard.toml"
    config.write_text(config.read_text().replace("127.0.0.1:8080", f"127.0.0.1:{port}"))
    ws = Workspace.from_config()
    (tmp_path / "factor.pkl").write_bytes(pickle.dumps(2))
    model = Model.register(ws, model_path="factor.pkl", model_name="factor")
    (tmp_path / "score.py").write_text(ECHO)
    app = create_app(ws.modelyard, follow_interval=0.2)
    with running(app, port=port):
        service = Model.deploy(
            ws,
            "echo",
            [model],
            InferenceConfig(entry_script="score.py"),
            AksWebservice.deploy_configuration(),  # keys on, as AKS had them
        )
        assert isinstance(service, AksWebservice)
        service.wait_for_deployment(show_output=False)
        assert service.state == "Healthy" and service.auth_enabled
        assert service.run({"data": [1]}) == {"got": {"data": [1]}, "path": "factor/1/factor.pkl"}
        primary, secondary = service.get_keys()
        assert primary and secondary and primary != secondary

        assert ws.webservices["echo"].get_keys() == (primary, secondary)  # same session
        elsewhere = Workspace.from_config()  # another notebook: keys were shown once
        fetched = elsewhere.webservices["echo"]
        with pytest.raises(WebserviceException, match="stored hashed"):
            fetched.get_keys()
        fetched.regen_key("Primary")
        new_primary = fetched.get_keys()[0]
        assert new_primary != primary
        with pytest.raises(WebserviceException, match="Primary"):
            fetched.regen_key("Tertiary")
        with pytest.raises(WebserviceException, match="exists"):
            Model.deploy(ws, "echo", [model], InferenceConfig(entry_script="score.py"))
        assert "echo" in ws.webservices and fetched.models == ["factor:1"]
        (tmp_path / "factor.pkl").write_bytes(pickle.dumps(3))
        newer = Model.register(ws, model_path="factor.pkl", model_name="factor")
        fetched.update(models=[newer])  # the new primary key: regenerated above
        fetched.wait_for_deployment()
        assert fetched.models == ["factor:2"] and fetched.state == "Healthy"
        deadline = time.monotonic() + 30  # the old deployment answers until the new is up
        while fetched.run({"data": [2]})["path"] != "factor/2/factor.pkl":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        fetched.delete()
        assert "echo" not in ws.webservices
        elsewhere.modelyard.close()
        with pytest.raises(WebserviceException, match="WebserviceNotFound"):
            Webservice(ws, "echo")
    ws.modelyard.close()


def test_environment_variables_reach_deploy_script_like_azures() -> None:
    env = Environment("web")
    env.python.user_managed_dependencies = True
    env.environment_variables = {"AML_CORS_ORIGINS": "https://app.example.com"}
    options = InferenceConfig(entry_script="score.py", environment=env).deployment_options()
    assert options["environment_variables"] == {"AML_CORS_ORIGINS": "https://app.example.com"}
    assert (
        "environment_variables" not in InferenceConfig(entry_script="score.py").deployment_options()
    )


def test_wait_for_deployment_says_soon_that_no_replica_serves_the_workspace(
    ws: Workspace, tmp_path: Path
) -> None:
    (tmp_path / "factor.pkl").write_bytes(pickle.dumps(2))
    model = Model.register(ws, model_path="factor.pkl", model_name="factor")
    (tmp_path / "score.py").write_text(ECHO)
    service = Model.deploy(ws, "echo", [model], InferenceConfig(entry_script="score.py"))
    began = time.monotonic()
    with pytest.raises(WebserviceException) as raised:
        service.wait_for_deployment(True)
    waited = time.monotonic() - began
    message = str(raised.value)
    assert "no modelyard replica is serving this workspace" in message
    assert "`modelyard serve`" in message and str(tmp_path) in message
    assert waited < 60, f"waited {waited:.0f} s (the deployment waits 900 s for a replica)"
    assert service.state == "Transitioning"  # nothing was run: the endpoint still waits


def test_a_script_that_fails_to_import_names_the_cause_in_the_exception(
    ws: Workspace, tmp_path: Path
) -> None:
    (tmp_path / "score.py").write_text("import pandas_is_not_here\n\ndef init():\n    pass\n")
    app = create_app(ws.modelyard, follow_interval=0.2)
    with running(app):
        service = Model.deploy(ws, "broken", [], InferenceConfig(entry_script="score.py"))
        with pytest.raises(WebserviceException) as raised:
            service.wait_for_deployment()
    lines = str(raised.value).splitlines()
    assert lines[0].endswith("current service state: Failed")
    assert "ModuleNotFoundError: No module named 'pandas_is_not_here'" in lines[1]
