"""Reports where the azureml names come from."""

from azureml.contrib.services.aml_response import AMLResponse
from azureml.core.model import Model
from azureml.monitoring import ModelDataCollector


def init():
    pass


def run(raw_data):
    import azureml.contrib.services.aml_request as aml_request
    import azureml.core.model as model

    try:
        path = Model.get_model_path("m")
    except Exception as exc:
        path = type(exc).__name__
    return {
        "model_path": path,
        "model_file": model.__file__,
        "request_file": aml_request.__file__,
        "response": AMLResponse.__module__,
        "collector": ModelDataCollector.__module__,
    }
