"""``azureml.core`` as far as entry scripts use it inside a deployment: ``Model``."""

from azureml.core.model import Model

__all__ = ["Model"]
