"""``Model.get_model_path`` as azureml-core resolves it inside a deployment.

The algorithm (PROTOCOLS.md §2.6): ``MODELS_DIR`` is computed once, at import, from
``AML_APP_ROOT``; no workspace is ever used (an endpoint process has no run context), so
the path comes from the local cache ``MODELS_DIR/<name>/<version>/<the one entry>``, else
from ``<name>`` relative to the working directory. ``AZUREML_MODEL_DIR`` is not read.
"""

from __future__ import annotations

import os

from azureml.exceptions import ModelNotFoundException, WebserviceException

MODELS_DIR = os.path.join(os.environ.get("AML_APP_ROOT", ""), "azureml-models")


class Model:
    """The registered-model names entry scripts use at scoring time."""

    @staticmethod
    def get_model_path(
        model_name: str, version: int | None = None, _workspace: object = None
    ) -> str:
        """The path to the model's file or folder; relative when ``AML_APP_ROOT`` is unset.

        Raises WebserviceException if ``version`` is not an int, if the version folder holds
        other than exactly one entry, or (with a version) if the model is not found;
        ModelNotFoundException if it is not found (no version); ValueError if a model's
        folder holds a non-integer entry (as azureml-core does).
        """
        if version is not None and not isinstance(version, int):
            raise WebserviceException("version should be an int")
        if version is not None:
            try:
                return Model._get_model_path_local(model_name, version)
            except ModelNotFoundException as exc:
                if _workspace is not None:
                    raise _no_remote() from None
                raise WebserviceException(exc.message) from None
        if _workspace is not None:
            raise _no_remote()
        return Model._get_model_path_local(model_name, version)

    @staticmethod
    def _get_model_path_local(model_name: str, version: int | None = None) -> str:
        if version is not None and not isinstance(version, int):
            raise WebserviceException("version should be an int")
        if model_name is None:
            raise WebserviceException("model_name is None")
        candidate = os.path.join(MODELS_DIR, model_name)
        if not os.path.exists(candidate):
            return Model._get_model_path_local_from_root(model_name)
        chosen = Model._get_latest_version(os.listdir(candidate)) if version is None else version
        candidate = os.path.join(candidate, str(chosen))
        if not os.path.exists(candidate):
            return Model._get_model_path_local_from_root(model_name)
        entries = os.listdir(candidate)
        if len(entries) != 1:
            raise WebserviceException(
                f"Dir {candidate} can contain only 1 file or folder. Found {entries}"
            )
        return os.path.join(candidate, entries[0])

    @staticmethod
    def _get_model_path_local_from_root(model_name: str) -> str:
        if os.path.exists(model_name):
            return model_name
        raise ModelNotFoundException(
            f"Model {model_name} not found in cache at {MODELS_DIR} or in current working "
            f"directory {os.getcwd()}. "
            "For more info, set logging level to DEBUG."
        )

    @staticmethod
    def _get_latest_version(versions: list[str]) -> int:
        if not len(versions) > 0:
            raise WebserviceException("versions is empty")
        return max(int(v) for v in versions)


def _no_remote() -> WebserviceException:
    return WebserviceException(
        "A modelyard endpoint cannot download a model from a workspace; register it with "
        "the endpoint so that it is laid out under " + MODELS_DIR
    )


__all__ = ["MODELS_DIR", "Model"]
