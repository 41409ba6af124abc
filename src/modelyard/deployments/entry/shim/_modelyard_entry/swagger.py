"""``/swagger.json``: the user's swagger files if the app root has them, else generated.

Versions 2 (alias 2.0), 3 (3.0) and 3.1, as azureml-inference-server-http: a user file
(``swagger.json`` or ``swagger2.json``; ``swagger3.json``; ``swagger3.1.json``) is served
parsed and re-serialised; otherwise the spec is built with ``info`` from SERVICE_NAME and
SERVICE_VERSION, paths prefixed by SERVICE_PATH_PREFIX, and the input/output schemas from
inference-schema's decorators (``{"type": "object", "example": {}}`` for an undecorated
run). Built once, after init().
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import log
from .script import UserScript

ALIASES = {"2": ("2", "2.0"), "3": ("3", "3.0"), "3.1": ("3.1",)}
USER_FILES = {
    "2": ("swagger.json", "swagger2.json"),
    "3": ("swagger3.json",),
    "3.1": ("swagger3.1.json",),
}
ALL_VERSIONS = ["2.0", "3.0", "3.1"]

_HEALTH = "Simple health check endpoint to ensure the service is up at any given point."
_HEALTHY = "If service is up and running, this response will be returned with the content 'Healthy'"
_FAILED = "The service failed to execute due to an error."
_SCORE = "Run web service's model and get the prediction output"
_PAYLOAD = "The input payload for executing the real-time machine learning service."
_OK = "The service processed the input correctly and provided a result prediction, if applicable."
_BEARER = {
    "type": "apiKey",
    "name": "Authorization",
    "in": "header",
    "description": "For example: Bearer abc123",
}
_ERROR = {"type": "object", "properties": {"message": {"type": "string"}}}


class SwaggerNotFound(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Swagger:
    """The specs by version alias."""

    def __init__(self, app_root: str, script: UserScript, env: dict[str, str]) -> None:
        self.specs: dict[str, Any] = {}
        self.supported: list[str] = []
        skipped: list[str] = []
        for version in ("2", "3", "3.1"):
            spec = _read_user(app_root, version) or _generate(version, script, env)
            if spec is None:
                skipped.append(version)
                continue
            for alias in ALIASES[version]:
                self.specs[alias] = spec
            self.supported.append(version)
        if self.supported and skipped:
            log.info(
                "Swaggers are prepared for versions [{}] and skipped for versions [{}].".format(
                    ", ".join(self.supported), ", ".join(skipped)
                )
            )
        elif self.supported:
            log.info(
                "Swaggers are prepared for the following versions: [{}].".format(
                    ", ".join(self.supported)
                )
            )
        else:
            log.info("No swagger is prepared.")

    def get(self, version: str) -> Any:
        """The spec for ``version``; raises SwaggerNotFound with azmlinfsrv's messages."""
        listed = ", ".join(sorted(self.supported))
        if not any(version in aliases for aliases in ALIASES.values()):
            raise SwaggerNotFound(
                f"Swagger version [{version}] is not valid. Supported versions: [{listed}]."
            )
        spec = self.specs.get(version)
        if not spec:
            raise SwaggerNotFound(
                f"Swagger version [{version}] is not supported for the scoring script. "
                f"Supported swagger versions: [{listed}]."
            )
        return spec


def _read_user(app_root: str, version: str) -> Any | None:
    for name in USER_FILES[version]:
        path = os.path.join(app_root, name)
        try:
            with open(path, encoding="utf-8") as handle:
                spec = json.load(handle)
        except FileNotFoundError:
            continue
        log.info(f"Loaded user's swagger file for version [{version}] from {path}")
        if spec:
            return spec
    return None


def _generate(version: str, script: UserScript, env: dict[str, str]) -> dict[str, Any] | None:
    util = script.schema_util
    supported = util.get_supported_versions(script.run) if util is not None else ALL_VERSIONS
    if all(alias not in supported for alias in ALIASES[version]):
        return None
    if script.is_decorated() and util is not None:
        inputs, outputs = util.get_input_schema(script.run), util.get_output_schema(script.run)
    else:
        inputs, outputs = {"type": "object", "example": {}}, {"type": "object", "example": {}}
    name = env.get("SERVICE_NAME", "ML service")
    info = {
        "title": name,
        "description": "API specification for the Azure Machine Learning service " + name,
        "version": env.get("SERVICE_VERSION", "1.0"),
    }
    prefix = env.get("SERVICE_PATH_PREFIX", "")
    prefix = "/" + prefix.strip("/") if prefix else ""
    if version == "2":
        return _swagger2(info, prefix, inputs, outputs)
    spec = _openapi3(info, prefix, inputs, outputs)
    if version == "3.1":
        spec["openapi"] = "3.1.0"
    return spec


def _swagger2(info: dict[str, str], prefix: str, inputs: Any, outputs: Any) -> dict[str, Any]:
    error = {"description": _FAILED, "schema": {"$ref": "#/definitions/ErrorResponse"}}
    return {
        "swagger": "2.0",
        "info": info,
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {"Bearer": dict(_BEARER)},
        "paths": {
            prefix + "/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "description": _HEALTH,
                    "responses": {
                        "200": {
                            "description": _HEALTHY,
                            "schema": {"type": "string"},
                            "examples": {"application/json": "Healthy"},
                        },
                        "default": dict(error),
                    },
                }
            },
            prefix + "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "description": _SCORE,
                    "security": [{"Bearer": []}],
                    "parameters": [
                        {
                            "name": "serviceInputPayload",
                            "in": "body",
                            "description": _PAYLOAD,
                            "schema": {"$ref": "#/definitions/ServiceInput"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": _OK,
                            "schema": {"$ref": "#/definitions/ServiceOutput"},
                        },
                        "default": dict(error),
                    },
                }
            },
            prefix + "/swagger.json": {
                "get": {
                    "operationId": "GetSwaggerSpec",
                    "description": "Get the Swagger specification.",
                    "parameters": [
                        {
                            "name": "version",
                            "in": "query",
                            "required": False,
                            "type": "integer",
                            "enum": [2, 3],
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The Swagger specification.",
                            "schema": {"type": "string"},
                        },
                        "default": dict(error),
                    },
                }
            },
        },
        "definitions": {
            "ServiceInput": inputs,
            "ServiceOutput": outputs,
            "ErrorResponse": dict(_ERROR),
        },
    }


def _openapi3(info: dict[str, str], prefix: str, inputs: Any, outputs: Any) -> dict[str, Any]:
    def json_ref(name: str) -> dict[str, Any]:
        return {"application/json": {"schema": {"$ref": "#/components/schemas/" + name}}}

    def error() -> dict[str, Any]:
        return {"description": _FAILED, "content": json_ref("ErrorResponse")}

    return {
        "openapi": "3.0.3",
        "info": info,
        "security": [{"Bearer": []}],
        "paths": {
            prefix + "/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "description": _HEALTH,
                    "responses": {
                        "200": {
                            "description": _HEALTHY,
                            "content": {
                                "text/plain": {"schema": {"type": "string", "example": "Healthy"}}
                            },
                        },
                        "default": error(),
                    },
                }
            },
            prefix + "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "description": _SCORE,
                    "security": [{"Bearer": []}],
                    "requestBody": {"description": _PAYLOAD, "content": json_ref("ServiceInput")},
                    "responses": {
                        "200": {"description": _OK, "content": json_ref("ServiceOutput")},
                        "default": error(),
                    },
                }
            },
            prefix + "/swagger.json": {
                "get": {
                    "operationId": "GetSwaggerSpec",
                    "description": "Get the Swagger specification.",
                    "parameters": [
                        {
                            "name": "version",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "enum": [2, 3]},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The Swagger specification.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "default": error(),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "ServiceInput": inputs,
                "ServiceOutput": outputs,
                "ErrorResponse": dict(_ERROR),
            },
            "securitySchemes": {"Bearer": dict(_BEARER)},
        },
    }
