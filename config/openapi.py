"""OpenAPI: document the error answers each operation can give, not only its success.

drf-spectacular documents only what a view declares, usually its 2xx answer. A client generated
from the schema then knows nothing of the 400, 403, 404 and 429 answers DRF gives, and a
contract tester flags each of them as undocumented. This schema class adds the ones a view can
really give, judged from the view itself (its permissions, throttles, path and input), with the
bodies DRF sends; an answer the view declares is left alone.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry, ResolvedComponent
from rest_framework.permissions import AllowAny

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
    "additionalProperties": {},
}
WRITE_METHODS = {"POST", "PUT", "PATCH"}


class ErrorDocumentingAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the 4xx answers DRF gives for this view."""

    def get_operation(
        self,
        path: str,
        path_regex: str,
        path_prefix: str,
        method: str,
        registry: ComponentRegistry,
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        takes_input = self.method in WRITE_METHODS or any(
            parameter.get("in") == "query" for parameter in operation.get("parameters", [])
        )
        if takes_input:
            responses.setdefault("400", self._error_answer("Invalid input.", validation=True))
        permissions = self.view.get_permissions()
        if not all(isinstance(permission, AllowAny) for permission in permissions):
            responses.setdefault(
                "403", self._error_answer("Not signed in, or the account lacks the role.")
            )
        if "{" in path:
            responses.setdefault("404", self._error_answer("No such object."))
        if self.view.get_throttles():
            responses.setdefault("429", self._error_answer("Too many requests; retry later."))
        return operation

    def _error_answer(self, description: str, *, validation: bool = False) -> dict[str, Any]:
        name, schema = (
            ("ValidationError", VALIDATION_ERROR_SCHEMA) if validation else ("Error", ERROR_SCHEMA)
        )
        component = ResolvedComponent(  # type: ignore[no-untyped-call]
            name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name
        )
        self.registry.register_on_missing(component)
        return {
            "description": description,
            "content": {"application/json": {"schema": component.ref}},
        }
