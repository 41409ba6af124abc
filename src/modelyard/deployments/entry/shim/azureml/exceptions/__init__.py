"""The exception names entry scripts catch around ``Model.get_model_path``."""

from __future__ import annotations


class AzureMLException(Exception):
    """Base of the Azure ML exceptions; ``message`` holds the text."""

    def __init__(self, exception_message: str, **kwargs: object) -> None:
        super().__init__(exception_message)
        self.message = exception_message


class UserErrorException(AzureMLException):
    """Invalid or unsupported input."""


class WebserviceException(AzureMLException):
    """A model-management failure (``status_code`` is None here: nothing is remote)."""

    def __init__(
        self,
        exception_message: str,
        status_code: object = None,
        logger: object = None,
        **kwargs: object,
    ) -> None:
        super().__init__(exception_message)
        self.status_code = status_code


class ModelNotFoundException(AzureMLException):
    """No model of that name (and version) in the deployment's model cache."""

    def __init__(self, exception_message: str, logger: object = None, **kwargs: object) -> None:
        super().__init__(exception_message)


__all__ = [
    "AzureMLException",
    "ModelNotFoundException",
    "UserErrorException",
    "WebserviceException",
]
