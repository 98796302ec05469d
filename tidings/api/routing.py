"""The route class of every API and web route: the edge rules no handler can forget.

* A JSON body is parsed by :func:`tidings.domain.jsonvalues.loads` (NaN, Infinity, integers
  outside signed 64-bit, NUL characters refused with the path) before FastAPI builds the models:
  the stdlib parser FastAPI uses would accept NaN and fail with a RecursionError on deep nesting.
* Path and query parameters declared ``int`` must fit a signed 64-bit integer (422 naming the
  parameter, e.g. ``["path", "contact_id"]``): ``/api/contacts/99999999999999999999999`` never
  reaches the database.
* No path, query or form parameter holds a NUL character (PostgreSQL stores none).

Every router is built with ``APIRouter(route_class=StrictRoute)``;
``tests/integration/test_edge_validation.py`` checks that no route of the app escapes it.
"""

from __future__ import annotations

import email.message
import types
import typing
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tidings.api.errors import ApiError, json_refused
from tidings.domain import jsonvalues


def _is_int(annotation: Any) -> bool:
    """``int``, ``int | None``, ``list[int]``, ``Annotated[int, ...]`` (not bool)."""
    if annotation is int:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_int(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset):
        return any(_is_int(a) for a in typing.get_args(annotation))
    return False


class StrictJsonRequest(Request):
    """A request whose ``json()`` is the strict parse done before the handler ran."""

    strict_json: Any = None

    async def json(self) -> Any:
        return self.strict_json


def _is_json(request: Request) -> bool:
    value = request.headers.get("content-type")
    if not value:
        return True  # FastAPI reads a body without a content type as JSON
    message = email.message.Message()
    message["content-type"] = value
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def param_error(where: str, name: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", f"{where}.{name}: {message}",
                    [{"loc": [where, name], "msg": message, "type": "value_error"}])


def param_problem(request: Request, int_params: list[tuple[str, str]]) -> tuple[str, str, str] | None:
    """(``path`` | ``query``, name, message) of the first parameter the edge rules refuse."""
    for where, values in (("path", request.path_params.items()), ("query", request.query_params.multi_items())):
        for name, value in values:
            if isinstance(value, str) and "\x00" in value:
                return where, name, jsonvalues.NUL
    for where, name in int_params:
        raw = ([request.path_params.get(name)] if where == "path" else request.query_params.getlist(name))
        for value in raw:
            if not isinstance(value, str):
                continue
            try:
                number = int(value.strip())
            except ValueError:
                continue  # FastAPI answers 422 for what is not an integer
            if not jsonvalues.INT64_MIN <= number <= jsonvalues.INT64_MAX:
                return where, name, jsonvalues.OUT_OF_RANGE
    return None


def _int_params(dependant: Dependant) -> list[tuple[str, str]]:
    """(``path`` | ``query``, name) of every parameter declared int, sub-dependencies included."""
    found: list[tuple[str, str]] = []
    todo = [dependant]
    while todo:
        d = todo.pop()
        found += [("path", f.alias) for f in d.path_params if _is_int(f.field_info.annotation)]
        found += [("query", f.alias) for f in d.query_params if _is_int(f.field_info.annotation)]
        todo.extend(d.dependencies)
    return sorted(set(found))


class StrictRoute(APIRoute):
    def refuse_param(self, where: str, name: str, message: str) -> Exception:
        """The exception for a refused parameter: 422 naming it (the web app renders a 404 page)."""
        return param_error(where, name, message)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        int_params = _int_params(self.dependant)
        reads_json = self.body_field is not None and not _is_form(self)

        async def handler(request: Request) -> Response:
            problem = param_problem(request, int_params)
            if problem is not None:
                raise self.refuse_param(*problem)
            if reads_json:
                strict = StrictJsonRequest(request.scope, request.receive)
                body = await strict.body()
                if body and _is_json(strict):
                    try:
                        strict.strict_json = jsonvalues.loads(body, ["body"])
                    except jsonvalues.JsonRefused as exc:
                        raise json_refused(exc) from None
                request = strict
            elif _is_form_post(request):
                # the body first: then the handler may read it again (request.body() or .form(), cached)
                await request.body()
                for name, value in (await request.form()).multi_items():
                    if isinstance(value, str) and "\x00" in value:
                        raise self.refuse_param("form", name, jsonvalues.NUL)
            return await original(request)

        return handler


def _is_form_post(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return request.method != "GET" and kind in ("application/x-www-form-urlencoded", "multipart/form-data")


def _is_form(route: APIRoute) -> bool:
    from fastapi.params import Form

    field = route.body_field
    return field is not None and isinstance(field.field_info, Form)


def with_int64_bounds(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document saying what the edge accepts: every integer schema without bounds
    gets ``format: int64`` and the signed 64-bit ``minimum`` / ``maximum``."""
    todo: list[Any] = [document]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if node.get("type") == "integer":
                node.setdefault("format", "int64")
                node.setdefault("minimum", jsonvalues.INT64_MIN)
                node.setdefault("maximum", jsonvalues.INT64_MAX)
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return document

