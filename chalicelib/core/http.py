"""Routes that declare what they take and give: auth by role, JSON parsing and pydantic
validation, error rendering, and the OpenAPI 3.1 document built from those declarations.

Products write ``api = Api(__name__, tag="consult")`` and ``@api.route("/sessions", "POST",
body=CreateSession, query=Page, response=Session, status=201, roles=("patient",))``; the view
gets a ``Call`` (``user``, ``body``, ``args``) and its path parameters, and returns a model or a
dict.

The edge's rules, the same on every route (nothing per field, nothing per product):

- a body is JSON nested at most ``MAX_DEPTH`` deep (checked before parsing, without recursion),
  else 400 ``malformed_json``; ``NaN``/``Infinity`` are not JSON (400 too);
- every number in it is one DynamoDB can store (38 significant digits, magnitude 1e-130 to
  9.99…e125, or 0), else 422 ``number_out_of_range``;
- it is validated *strictly* (``model_validate_json(strict=True)``): a bool or a string is never
  an int or a float, a float is never an int; 422 ``validation_error`` with the fields;
- the query string is validated by the route's declared model (lax: it is text), else 400
  ``invalid_query``;
- an authenticated route's ``call.user`` is the caller (a ``Principal``, never ``None``);
- every status a route can answer (400/401/403/404/409/422 as it declares) is in the OpenAPI
  document with the one ``Error`` schema.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from chalicelib.core import db
from chalicelib.core.auth import Principal, authenticate
from chalicelib.core.errors import BadRequest, Contended, MudaError, Unauthorized, Unprocessable
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

MAX_DEPTH = 32  # no request of ours nests beyond a handful; deeper is an attack on the parser
# What a DynamoDB number can hold: 38 significant digits, magnitude 1E-130 to 9.99…E+125, or 0.
_DDB_MIN = Decimal("1E-130")
_DDB_MAX = Decimal("9.9999999999999999999999999999999999999E+125")
_DDB_DIGITS = 38


@dataclass(frozen=True)
class Call:
    principal: Principal | None
    body: Any
    query: dict[str, str]  # the raw query string; read ``args`` where the route declares a model
    headers: dict[str, str]
    raw_body: bytes = b""  # the exact bytes, for bodies verified by a signature over them
    source_ip: str | None = None
    args: Any = None  # the route's declared query model, validated

    @property
    def user(self) -> Principal:
        """The authenticated caller. Every route with roles has one (checked before the view
        runs); a public route (``roles=None``) that asks gets a 401, never ``None``."""
        if self.principal is None:
            raise Unauthorized("missing bearer token")
        return self.principal


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
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()  # statuses the route answers beyond the ones its declaration implies


routes: list[RouteSpec] = []


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, default=str),
        status_code=status,
        headers={"Content-Type": JSON, **(headers or {})},
    )


def error_response(error: MudaError) -> Response:
    response = json_response(error.to_dict(), error.status)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


# --- reading JSON -------------------------------------------------------------------------------


class NestingTooDeep(ValueError):
    """The document nests arrays/objects deeper than ``MAX_DEPTH``."""


class NumberOutOfRange(ValueError):
    """A number DynamoDB cannot store (too small, too large or too precise)."""


_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether ``text`` nests arrays and objects deeper than ``limit`` (brackets inside strings
    ignored). A plain scan, no recursion: any depth is measured without a ``RecursionError``."""
    if text.count("[") + text.count("{") <= limit:
        return False  # cannot nest deeper than it has brackets
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth -= 1
    return False


def _storable(literal: str) -> str:
    number = Decimal(literal)  # exact; the checks below use no context (it rounds to 28 digits)
    if number and not _DDB_MIN <= number.copy_abs() <= _DDB_MAX:
        raise NumberOutOfRange(f"{literal[:40]} is outside the numbers we store (1e-130 to 9.99e125)")
    digits = "".join(map(str, number.as_tuple().digits)).strip("0")
    if len(digits) > _DDB_DIGITS:
        raise NumberOutOfRange(f"{literal[:40]}… has more than {_DDB_DIGITS} significant digits")
    return literal


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def loads(raw: bytes | str | None) -> Any:
    """Parse a request body as strict JSON: ``NestingTooDeep`` beyond ``MAX_DEPTH``,
    ``NumberOutOfRange`` for a number DynamoDB cannot hold, ``ValueError`` for anything that is
    not JSON (``NaN`` and ``Infinity`` included). The M-Pesa callback reads its body through this
    too."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else (raw or "")
    if too_deep(text):
        raise NestingTooDeep(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(
            text or "null",
            parse_int=lambda s: int(_storable(s)),
            parse_float=lambda s: float(_storable(s)),
            parse_constant=_not_json,
        )
    except RecursionError:  # belt and braces: the depth check should make this unreachable
        raise NestingTooDeep(f"JSON nested deeper than {MAX_DEPTH} levels") from None


def parse_body(raw: bytes | None, model: type[BaseModel]) -> BaseModel:
    """Validate a JSON body: 400 when it is not JSON (or nests too deep), 422 when a number is out
    of DynamoDB's range or a field is wrong. Strict: ``true`` or ``"5"`` is not an int."""
    try:
        loads(raw)
    except NumberOutOfRange as error:
        raise Unprocessable(str(error), code="number_out_of_range") from None
    except NestingTooDeep as error:
        raise BadRequest(str(error), code="malformed_json") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("request body is not valid JSON", code="malformed_json") from None
    try:
        return model.model_validate_json(raw or b"null", strict=True)
    except ValidationError as error:
        raise Unprocessable("request body is invalid", details=_details(error)) from None


def parse_query(query: dict[str, str], model: type[BaseModel]) -> BaseModel:
    """Validate the query string by the route's model (lax: every value arrives as text)."""
    try:
        return model.model_validate(query)
    except ValidationError as error:
        raise BadRequest("query string is invalid", code="invalid_query", details=_details(error)) from None


def _details(error: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in error.errors()]


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
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        roles: tuple[str, ...] | None = (),
        content_type: str = JSON,
        errors: tuple[int, ...] = (),
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a route. ``errors``: the statuses it can answer beyond those its declaration
        implies (401/403 from ``roles``, 400/422 from ``body``, 400 from ``query``, 404 from a
        path parameter), e.g. ``(409,)``; they go into the OpenAPI document."""

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            summary = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
            routes.append(
                RouteSpec(
                    path,
                    method,
                    summary,
                    self.tag,
                    body,
                    response,
                    status,
                    roles,
                    content_type,
                    query,
                    errors,
                )
            )

            @functools.wraps(fn)
            def view(**params: Any) -> Response:
                request = self.blueprint.current_request
                logger.set_correlation_id((request.context or {}).get("requestId"))
                try:
                    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
                    principal = None if roles is None else authenticate(headers.get("authorization"), roles)
                    raw_query = dict(request.query_params or {})
                    args = parse_query(raw_query, query) if query else None
                    parsed = parse_body(request.raw_body, body) if body else None
                    identity = (request.context or {}).get("identity") or {}
                    call = Call(
                        principal,
                        parsed,
                        raw_query,
                        headers,
                        request.raw_body or b"",
                        identity.get("sourceIp"),
                        args,
                    )
                    return _render(fn(call, **params), status, content_type)
                except MudaError as error:
                    return error_response(error)
                except RecursionError:  # input nested past any parser's stack (e.g. a token's JSON)
                    return error_response(BadRequest("input nested too deeply", code="malformed_json"))
                except Exception as error:
                    if isinstance(error, db.Refused) and error.conflict:  # contention outlasted the retries
                        return error_response(Contended())
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
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"description": "What was wrong, e.g. the invalid fields."},
            },
        }
    },
}
_ERRORS = {
    400: "Malformed request: body not JSON or nested too deep, or an invalid query string",
    401: "Missing or invalid token",
    402: "Not enough credit",
    403: "Not allowed",
    404: "Not found",
    409: "Conflicts with the current state",
    422: "Invalid body (strict types; numbers within what we store)",
    502: "An upstream service failed",
    503: "A dependency is unavailable",
}


def openapi(title: str = "Muda", version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared route; every ``$ref`` in it resolves."""
    modes = {}
    for r in routes:
        for model, mode in ((r.body, "validation"), (r.response, "serialization")):
            if model is not None:
                modes.setdefault((model, mode), None)
    keys = sorted(modes, key=lambda k: (k[0].__module__, k[0].__name__, k[1]))
    refs, defs = models_json_schema(keys, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = {**defs.get("$defs", {}), "Error": _ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for r in routes:
        paths.setdefault(r.path, {})[r.method.lower()] = _operation(r, refs)
    document = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
    return _short_names(document)


def _short_names(document: dict[str, Any]) -> dict[str, Any]:
    """Models of the same name in two products get pydantic's ``chalicelib__ops__schemas__EventOut``;
    call it ``ops.EventOut`` (every ``$ref`` to it rewritten alike)."""
    schemas = document["components"]["schemas"]
    renames = {}
    for name in schemas:
        parts = name.split("__")
        if len(parts) > 2 and parts[0] == "chalicelib":
            short = f"{parts[1]}.{parts[-1]}"
            if short not in schemas and short not in renames.values():
                renames[name] = short
    text = json.dumps(document)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
        text = text.replace(f'"{old}": {{', f'"{new}": {{')
    return json.loads(text)


def _operation(r: RouteSpec, refs: dict[Any, Any]) -> dict[str, Any]:
    if r.response is not None:
        schema: dict[str, Any] = refs[(r.response, "serialization")]
    else:
        schema = {"type": "object"} if r.content_type == JSON else {"type": "string"}
    op: dict[str, Any] = {
        "summary": r.summary,
        "tags": [r.tag],
        "operationId": f"{r.method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', r.path).strip('_')}",
        "responses": {str(r.status): {"description": "OK", "content": {r.content_type: {"schema": schema}}}},
    }
    path_params = re.findall(r"{(\w+)}", r.path)
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in path_params
    ] + (_query_parameters(r.query) if r.query else [])
    if parameters:
        op["parameters"] = parameters
    statuses = set(r.errors)
    if r.body:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": refs[(r.body, "validation")]}}}
        statuses |= {400, 422}
    if r.query:
        statuses.add(400)
    if path_params:
        statuses.add(404)
    if r.roles is not None:
        op["security"] = [{"bearer": []}]
        statuses.add(401)
        if r.roles:
            statuses.add(403)
    for status in sorted(statuses):
        description = _ERRORS.get(status, "Error")
        if status == 403 and r.roles:
            description = f"Requires role: {', '.join(r.roles)}"
        op["responses"][str(status)] = {
            "description": description,
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return op


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One ``in: query`` parameter per field of the route's query model."""
    schema = model.model_json_schema(mode="validation")
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        out.append(param)
    return out
