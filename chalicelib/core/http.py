"""Routes that declare what they take and give: auth by role, JSON parsing and pydantic
validation, error rendering, and the OpenAPI 3.1 document built from those declarations.

Products write ``api = Api(__name__, tag="consult")`` and ``@api.route("/sessions", "POST",
body=CreateSession, response=Session, status=201, roles=("patient",))``; the view gets a
``Call`` (principal, body, query) and its path parameters, and returns a model or a dict.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from chalicelib.core.auth import Principal, authenticate
from chalicelib.core.errors import BadRequest, MudaError, Unprocessable
from chalicelib.core.observability import logger

JSON = "application/json"
# Bodies are parsed as JSON whatever they claim to be, so a wrong one gets our 400, not a 415.
_ACCEPTED = [
    JSON,
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "application/webhook+json",  # LiveKit's webhooks
]


@dataclass(frozen=True)
class Call:
    principal: Principal | None
    body: Any
    query: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes = b""  # the exact bytes, for bodies verified by a signature over them
    source_ip: str | None = None


@dataclass(frozen=True)
class RouteSpec:
    path: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    roles: tuple[str, ...] | None  # None: public; (): any authenticated caller
    content_type: str = JSON


routes: list[RouteSpec] = []


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, default=str),
        status_code=status,
        headers={"Content-Type": JSON, **(headers or {})},
    )


def error_response(error: MudaError) -> Response:
    return json_response(error.to_dict(), error.status)


def parse_body(raw: bytes | None, model: type[BaseModel]) -> BaseModel:
    """Validate a JSON body: 400 when it is not JSON, 422 with the fields when it is wrong."""
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("request body is not valid JSON", code="malformed_json") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in error.errors()]
        raise Unprocessable("request body is invalid", details=details) from None


def _render(result: Any, status: int, content_type: str) -> Response:
    if isinstance(result, Response):
        return result
    if content_type != JSON:
        return Response(body=result, status_code=status, headers={"Content-Type": content_type})
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    elif isinstance(result, list):
        result = [r.model_dump(mode="json") if isinstance(r, BaseModel) else r for r in result]
    return json_response(result, status)


class Api:
    """A Chalice Blueprint whose routes are validated, authorised and documented alike."""

    def __init__(self, import_name: str, tag: str) -> None:
        self.blueprint = Blueprint(import_name)
        self.tag = tag

    def route(
        self,
        path: str,
        method: str = "GET",
        *,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        roles: tuple[str, ...] | None = (),
        content_type: str = JSON,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            summary = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
            routes.append(
                RouteSpec(path, method, summary, self.tag, body, response, status, roles, content_type)
            )

            @functools.wraps(fn)
            def view(**params: Any) -> Response:
                request = self.blueprint.current_request
                logger.set_correlation_id((request.context or {}).get("requestId"))
                try:
                    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
                    principal = None if roles is None else authenticate(headers.get("authorization"), roles)
                    parsed = parse_body(request.raw_body, body) if body else None
                    identity = (request.context or {}).get("identity") or {}
                    call = Call(
                        principal,
                        parsed,
                        dict(request.query_params or {}),
                        headers,
                        request.raw_body or b"",
                        identity.get("sourceIp"),
                    )
                    return _render(fn(call, **params), status, content_type)
                except MudaError as error:
                    return error_response(error)
                except Exception:
                    logger.exception("unhandled error", extra={"route": f"{method} {path}"})
                    return json_response({"error": {"code": "internal", "message": "internal error"}}, 500)

            self.blueprint.route(path, methods=[method], content_types=_ACCEPTED)(view)
            return fn

        return decorate


# --- OpenAPI ----------------------------------------------------------------------------------

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
        }
    },
}


def openapi(title: str = "Muda", version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared route."""
    models = {m for r in routes for m in (r.body, r.response) if m}
    _, defs = models_json_schema(
        [
            (m, "validation" if any(r.body is m for r in routes) else "serialization")
            for m in sorted(models, key=lambda m: m.__name__)
        ],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = {**defs.get("$defs", {}), "Error": _ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for r in routes:
        op: dict[str, Any] = {
            "summary": r.summary,
            "tags": [r.tag],
            "operationId": f"{r.method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', r.path).strip('_')}",
            "responses": {str(r.status): _content(r.response, r.content_type, "OK")},
        }
        params = re.findall(r"{(\w+)}", r.path)
        if params:
            op["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
            ]
        if r.body:
            op["requestBody"] = {"required": True, "content": {JSON: {"schema": _ref(r.body)}}}
            op["responses"]["400"] = _error("Malformed JSON")
            op["responses"]["422"] = _error("Invalid body")
        if r.roles is not None:
            op["security"] = [{"bearer": []}]
            op["responses"]["401"] = _error("Missing or invalid token")
            if r.roles:
                op["responses"]["403"] = _error(f"Requires role: {', '.join(r.roles)}")
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _content(model: type[BaseModel] | None, content_type: str, description: str) -> dict[str, Any]:
    schema = _ref(model) if model else {"type": "string"} if content_type != JSON else {"type": "object"}
    return {"description": description, "content": {content_type: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}
