"""The OpenAPI document, made true: one error schema, and every error status each operation
can answer with.

FastAPI documents only what a route lists in ``responses=`` plus its own 422
``HTTPValidationError``, which is not the body this API sends. :func:`install_contract`
rewrites the document once, when it is first asked for:

- every error response (4xx/5xx) carries the one error schema ``ErrorOut``
  (:class:`findme.web.schemas.ErrorOut`); FastAPI's ``HTTPValidationError`` and
  ``ValidationError`` components are dropped;
- each operation documents the union of the statuses its route lists and the statuses
  :func:`operation_error_statuses` derives from how it is built: what its dependencies
  declare with :func:`findme.web.errors.raises` (401 sign-in, 403/404 group access, 429 rate
  limit, 503 stores, 400 cursors), 422 when it has parameters or a body, and with a body 413
  (the body-size guard of :mod:`findme.web.limits`) and 400 (FastAPI answers a body it
  cannot parse, e.g. bytes that are not UTF-8, with 400 ``bad_request``);
- ``security`` says what the route needs: a bearer token (routes on ``CurrentUser``), an
  optional one (``OptionalUser``), or none. FastAPI lists the bearer scheme on every route
  because the app-wide rate limit reads the token to count per caller;
- a multipart body read as a form model with every field optional
  (:mod:`findme.web.schemas.forms`) is the model's ``$ref`` alone: FastAPI adds the model's
  default instance as the body's ``default``, which the model's own field defaults already say.

``tests/unit/api/test_api_contract.py`` holds the document to this, and ``make fuzz``
holds the running API to the document.
"""

from __future__ import annotations

import copy
import http
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic.json_schema import models_json_schema

from findme.web import deps
from findme.web.errors import declared_statuses, error_response
from findme.web.schemas.common import ErrorOut

#: FastAPI's own validation-error components, replaced by ``ErrorOut``.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _calls(dependant: Dependant) -> list[object]:
    """Every dependency callable of ``dependant``, depth first."""
    found: list[object] = []
    for sub in dependant.dependencies:
        found.append(sub.call)
        found.extend(_calls(sub))
    return found


def api_routes(app: FastAPI) -> list[RouteContext]:
    """The app's API routes as served (included routers' prefixes and dependencies merged)."""
    return [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.include_in_schema
    ]


def has_body(route: RouteContext) -> bool:
    """Whether the operation takes a request body (a model, a form or an ``openapi_extra`` one)."""
    extra = route.openapi_extra or {}
    return route.body_field is not None or "requestBody" in extra


def operation_error_statuses(route: RouteContext) -> set[int]:
    """The error statuses ``route`` can answer with, by construction.

    Returns:
        Statuses listed in the route's ``responses=``, declared by its dependencies
        (:func:`findme.web.errors.raises`), 422 with parameters or a body (validation),
        400 (unparsable body) and 413 (the body-size guard) with a body.
    """
    statuses = {int(code) for code in route.responses if str(code).isdigit()}
    for call in _calls(route.dependant):
        statuses.update(declared_statuses(call))
    flat = get_flat_params(route.dependant)
    if flat or has_body(route):
        statuses.add(422)
    if has_body(route):
        statuses.update((400, 413))
    return {status for status in statuses if status >= 400}


def _error_components() -> dict[str, Any]:
    """``ErrorOut`` and the models it uses, as ``components/schemas`` entries."""
    _, top = models_json_schema(
        [(ErrorOut, "serialization")], ref_template="#/components/schemas/{model}"
    )
    components: dict[str, Any] = top.get("$defs", {})
    return components


def _is_generic(response: dict[str, Any], status: int) -> bool:
    """A response FastAPI filled in by itself (a status phrase, or its 422)."""
    description = response.get("description")
    return description in (None, "", "Validation Error", "Error", http.HTTPStatus(status).phrase)


def _is_fastapi_422(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref") == "#/components/schemas/HTTPValidationError")


def _document_errors(operation: dict[str, Any], statuses: set[int]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in sorted(statuses):
        current = responses.get(str(status))
        if current is None or _is_fastapi_422(current):
            responses[str(status)] = error_response(status)
            continue
        if "content" not in current:
            # The route described the status but not its body: the shared shape.
            description = None if _is_generic(current, status) else current["description"]
            responses[str(status)] = error_response(status, description)
        elif _is_generic(current, status):
            current["description"] = error_response(status)["description"]


def _document_security(operation: dict[str, Any], calls: list[object]) -> None:
    if deps.current_user in calls:
        return
    if deps.optional_user in calls:
        operation["security"] = [{}, *operation.get("security", [])]
    else:
        operation.pop("security", None)


def _document_form_body(operation: dict[str, Any]) -> None:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("multipart/form-data", {}).get("schema", {})
    if "$ref" in schema:
        schema.pop("default", None)


def contract_openapi(app: FastAPI, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (FastAPI's) rewritten as described in the module docstring."""
    document = copy.deepcopy(document)
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in _error_components().items():
        schemas.setdefault(name, schema)
    for route in api_routes(app):
        item = document["paths"].get(route.path_format, {})
        statuses = operation_error_statuses(route)
        calls = _calls(route.dependant)
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is not None:
                _document_errors(operation, statuses)
                _document_security(operation, calls)
                _document_form_body(operation)
    for name in FASTAPI_VALIDATION_SCHEMAS:  # every use was replaced above
        schemas.pop(name, None)
    return document


def install_contract(app: FastAPI) -> None:
    """Serve :func:`contract_openapi` as the app's document (built once, on first use)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if getattr(app.state, "contract_openapi", None) is None:
            app.state.contract_openapi = contract_openapi(app, generate())
        document: dict[str, Any] = app.state.contract_openapi
        return document

    app.openapi = openapi  # type: ignore[method-assign]
