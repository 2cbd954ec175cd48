"""OpenAPI post-processing: document the error answers every operation can give.

drf-spectacular documents only what a view declares, usually its 2xx answer. A client generated
from the schema then knows nothing of the 400, 403, 404 and 429 answers DRF gives everywhere,
and a contract tester flags each of them as undocumented. This hook adds them once, for all
apps, with the bodies DRF really sends; an answer a view already declares is left alone.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "description": "Why the request was refused.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Field errors: each refused field (or `non_field_errors`, or `detail`) with its messages."
    ),
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}, {}]
    },
}
WRITE_METHODS = {"post", "put", "patch"}
METHODS = WRITE_METHODS | {"get", "delete", "head", "options"}


def _answer(description: str, schema_name: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
        },
    }


def error_responses_add(
    result: dict[str, Any], generator: object, request: object, public: bool
) -> dict[str, Any]:
    """Add the common 4xx answers to each operation (a drf-spectacular postprocessing hook)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    schemas.setdefault("ValidationError", VALIDATION_ERROR_SCHEMA)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            takes_input = method in WRITE_METHODS or any(p.get("in") == "query" for p in parameters)
            if takes_input:
                responses.setdefault("400", _answer("Invalid input.", "ValidationError"))
            responses.setdefault(
                "403", _answer("Not signed in, or the account lacks the role.", "Error")
            )
            if "{" in path:
                responses.setdefault("404", _answer("No such object.", "Error"))
            responses.setdefault("429", _answer("Too many requests; retry later.", "Error"))
    return result
