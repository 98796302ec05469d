"""Every error is a structured JSON body naming what is wrong and where.

Shape: ``{"error": {"code": "...", "message": "...", "details": [{"loc": [...], "msg": "..."}]}}``
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tidings.domain.jsonvalues import JsonRefused


class ApiError(Exception):
    """Raise from a handler or service to return a structured 4xx."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def json_refused(exc: JsonRefused) -> ApiError:
    """A body the JSON rule refuses: 400 ``invalid_json`` for text that is not JSON (NaN and
    Infinity included), 422 ``validation_error`` for a number or string neither database stores;
    ``details`` name the path of each offence."""
    if not exc.problems:
        return ApiError(400, "invalid_json", exc.message,
                        [{"loc": ["body"], "msg": exc.message, "type": "json_invalid"}])
    details = [{"loc": p.path, "msg": p.message, "type": p.kind} for p in exc.problems]
    if exc.malformed:
        return ApiError(400, "invalid_json", exc.message, details)
    return ApiError(422, "validation_error", exc.message, details)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"])
        msg = str(first["msg"])
        return JSONResponse(
            error_body("validation_error", f"{where}: {msg}" if where else msg, details),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                413: "payload_too_large"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )
