"""Reading ingest bodies fast and strictly: raw bytes, optional gzip, one pydantic pass.

The event and tracking endpoints read ``await request.body()`` themselves instead of letting
FastAPI build the models: a batch of 500 is validated in one Rust pass (``validate_json``),
and the errors keep FastAPI's shape (``loc`` starting with ``"body"``).
"""

from __future__ import annotations

import zlib
from typing import Any, TypeVar

from fastapi import Request
from pydantic import TypeAdapter, ValidationError

from tidings.api.errors import ApiError, json_refused
from tidings.application.ingest.ingest import Incoming, IngestError, IngestResult, ingest
from tidings.bootstrap import Container
from tidings.domain import jsonvalues
from tidings.store.ingest_sql import IngestWriter
from tidings.store.sql_uow import SqlUnitOfWork

M = TypeVar("M")
#: gzip bodies may inflate to this many times the request limit (zip bombs stop there).
INFLATE_FACTOR = 4


async def read_body(request: Request, max_bytes: int) -> bytes:
    body = await request.body()
    encoding = request.headers.get("content-encoding", "").lower().strip()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise ApiError(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported (use gzip)")
    limit = max_bytes * INFLATE_FACTOR
    inflater = zlib.decompressobj(wbits=47 if encoding == "gzip" else 15)  # 47: gzip or zlib header
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ApiError(400, "invalid_body", f"could not decompress the {encoding} body: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise ApiError(413, "payload_too_large", f"decompressed body over {limit} bytes")
    return out


def validation_details(exc: ValidationError, prefix: list[Any]) -> list[dict[str, Any]]:
    return [{"loc": prefix + list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


def parse(adapter: TypeAdapter[M], body: bytes) -> M:
    """Validate a JSON body; 400 for malformed JSON (NaN and Infinity included), 422 naming every
    bad field otherwise (integers outside 64-bit, NUL characters: :mod:`tidings.domain.jsonvalues`)."""
    if not body.strip():
        raise ApiError(
            400,
            "invalid_json",
            "the request body is empty; send a JSON object",
            [{"loc": ["body"], "msg": "empty body", "type": "json_invalid"}],
        )
    if not jsonvalues.suspect(body):  # the fast path: one Rust pass, nothing to walk
        try:
            return adapter.validate_json(body)
        except ValidationError as exc:
            details = validation_details(exc, ["body"])
            malformed = next((d for d in details if d["type"] == "json_invalid"), None)
            if malformed is not None:
                raise json_refused(jsonvalues.JsonRefused(f"malformed JSON: {malformed['msg']}")) from None
            raise unprocessable(details) from None
    try:
        value = jsonvalues.loads(body, ["body"])
    except jsonvalues.JsonRefused as exc:
        raise json_refused(exc) from None
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise unprocessable(validation_details(exc, ["body"])) from None


def unprocessable(details: list[dict[str, Any]]) -> ApiError:
    first = details[0]
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return ApiError(422, "validation_error", f"{where}: {first['msg']}{more}", details)


def check_batch_size(c: Container, n: int, loc: list[Any]) -> None:
    if n > c.settings.max_batch_items:
        raise ApiError(
            413,
            "batch_too_large",
            f"a batch holds at most {c.settings.max_batch_items} items, got {n}",
            [{"loc": loc, "msg": f"at most {c.settings.max_batch_items} items", "type": "too_long"}],
        )


def writer(c: Container) -> IngestWriter:
    return c.ingest_writer


def run_ingest(c: Container, items: list[Incoming], source: str, item_loc: list[Any]) -> IngestResult:
    """One transaction (SQLite: one savepoint of a group commit) for the whole request: all
    items are kept, or none; returns once they are committed."""
    now = c.clock.now()
    try:
        return writer(c).run(lambda conn: ingest(SqlUnitOfWork.joining(conn), items, now, source))
    except IngestError as exc:
        loc = [*item_loc, exc.index, exc.field] if item_loc else ["body", exc.field]
        raise unprocessable([{"loc": loc, "msg": exc.message, "type": "value_error"}]) from None
