"""``azureml.exceptions``: the errors Azure ML SDK v1 code catches."""

from __future__ import annotations

from typing import Any


class AzureMLException(Exception):  # Azure's own name
    """Base of the SDK's errors; ``message`` holds the text."""

    def __init__(self, exception_message: str, **kwargs: Any) -> None:
        super().__init__(exception_message)
        self.message = exception_message
        self.details = kwargs


class WebserviceException(AzureMLException):
    """A deployment or a call to a web service went wrong."""


class ModelNotFoundException(AzureMLException):
    """No model of that name (and version) is registered."""


class UserErrorException(AzureMLException):
    """The arguments given cannot work."""
