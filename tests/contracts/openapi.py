"""Holding an API answer to the OpenAPI document, as a client reading ``/openapi.json`` would.

:class:`OpenApiDocument` finds the operation a request went to (by method and concrete path),
and :meth:`OpenApiDocument.problems` says what is wrong with an answer: a status the
operation does not document, or a JSON body that does not validate against the documented
schema (JSON Schema 2020-12, as OpenAPI 3.1 uses, ``$ref`` resolved in the document).
Shared by the unit tier (TestClient) and the integration tier (HTTP).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator


@dataclass
class OpenApiDocument:
    document: dict[str, Any]
    _patterns: list[tuple[re.Pattern[str], str]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        for template in self.document["paths"]:
            regex = re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template))
            self._patterns.append((re.compile(f"^{regex}$"), template))
        # Literal paths first, so /users/me wins over /users/{user_id}.
        self._patterns.sort(key=lambda p: p[1].count("{"))

    def template(self, method: str, path: str) -> str:
        """The document's path template serving ``method path`` (e.g. ``/groups/{group_id}``)."""
        for pattern, template in self._patterns:
            if pattern.match(path) and method.lower() in self.document["paths"][template]:
                return template
        raise KeyError(f"{method} {path} is not in the document")

    def operation(self, method: str, template: str) -> dict[str, Any]:
        operation: dict[str, Any] = self.document["paths"][template][method.lower()]
        return operation

    def operations(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every ``(METHOD, template, operation)`` of the document."""
        return [
            (method.upper(), template, operation)
            for template, item in self.document["paths"].items()
            for method, operation in item.items()
            if method in ("get", "put", "post", "delete", "patch")
        ]

    def schema_for(self, method: str, template: str, status: int) -> dict[str, Any] | None:
        response = self.operation(method, template)["responses"].get(str(status))
        if response is None:
            return None
        content = response.get("content", {}).get("application/json")
        return None if content is None else dict(content.get("schema", {}))

    def problems(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """What is wrong with answering ``method path`` with ``status`` and JSON ``body``."""
        template = self.template(method, path)
        where = f"{method} {template} -> {status}"
        if str(status) not in self.operation(method, template)["responses"]:
            documented = sorted(self.operation(method, template)["responses"])
            return [f"{where}: status not documented (documented: {documented})"]
        schema = self.schema_for(method, template, status)
        if schema is None or body is None:
            return []
        root = {**schema, "components": self.document.get("components", {})}
        return [
            f"{where}: {error.message} at {list(error.absolute_path)}"
            for error in Draft202012Validator(root).iter_errors(body)
        ]
