"""OpenAPI 3 description of an endpoint's scoring route, built from the signature."""

from __future__ import annotations

from typing import Any

from modelyard.types import OutputKind, Signature

_JSON_TYPES = {"int64": "integer", "float64": "number", "bool": "boolean"}


def _column(dtype: str, categories: tuple[Any, ...] | None, nullable: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _JSON_TYPES.get(dtype, "string")}
    if dtype == "datetime":
        schema["format"] = "date-time"
    if categories:
        schema["example"] = categories[0]
    if nullable:
        schema["nullable"] = True
    return schema


def openapi(endpoint: str, version: str, signature: Signature | None) -> dict[str, Any]:
    """The OpenAPI document of ``POST /endpoints/<endpoint>/score``."""
    properties = {
        c.name: _column(c.dtype, c.categories, c.nullable)
        for c in (signature.inputs if signature else ())
    }
    row = {"type": "object", "properties": properties, "required": list(properties)}
    kind = signature.output_kind if signature else OutputKind.RAW
    prediction: dict[str, Any] = (
        {"type": "array", "items": {"type": "number"}}
        if kind is OutputKind.PROBABILITIES
        else {"type": "number"}
        if kind is OutputKind.REGRESSION
        else {}
    )
    return {
        "openapi": "3.0.3",
        "info": {"title": f"modelyard endpoint {endpoint}", "version": version},
        "paths": {
            f"/endpoints/{endpoint}/score": {
                "post": {
                    "summary": f"Score rows with {endpoint}",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "data": {"type": "array", "items": row, "minItems": 1}
                                    },
                                    "required": ["data"],
                                }
                            },
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "One prediction per row",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "predictions": {"type": "array", "items": prediction}
                                        },
                                    }
                                }
                            },
                        },
                        "401": {"description": "Missing or wrong key"},
                        "422": {"description": "A value does not fit the signature"},
                    },
                }
            }
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
