"""Exception handlers: convscope's errors become JSON with the right HTTP status.

Bad input gets 422 with one entry per field, an unknown id 404, a forbidden state change
409; nothing becomes a stack trace in the response.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from convscope.errors import (
    ConvscopeError,
    DataUnavailable,
    InvalidInput,
    InvalidTransition,
    LimitExceeded,
    NotFound,
    PayloadTooLarge,
    StoreError,
    UnsafeModel,
    UnsupportedFormat,
)
from convscope.inspection.requests import InspectionUnavailable, LensFailed

logger = logging.getLogger(__name__)

_BLOCK_TAGS = frozenset(
    {"conv", "pool", "dense", "dropout", "batchnorm", "residual", "global_pool", "flatten"}
)
_VALUE_ERROR_PREFIX = "Value error, "
#: Longest input echoed back in a 422 entry, as JSON text; longer ones are left out, so
#: that a large bad body does not come back whole.
MAX_ECHOED_INPUT = 200


#: Names pydantic gives the members of a union in error locations ("ProbeImageRef", "int",
#: "list[int]", "literal['last','all']", "function-after[...]"): a user needs only the path
#: of the field they typed.
_UNION_MEMBER = re.compile(r"[A-Z]\w*|int|float|str|bool|none|\w[\w-]*\[.*\]")


def _clean_loc(loc: tuple[Any, ...]) -> list[Any]:
    cleaned: list[Any] = []
    for i, part in enumerate(loc):
        if i > 0 and isinstance(part, str) and _UNION_MEMBER.fullmatch(part):
            continue
        if i > 0 and isinstance(loc[i - 1], int) and part in _BLOCK_TAGS:
            continue
        cleaned.append(part)
    return cleaned


def clean_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI's 422 entries with readable locations and messages.

    ``arch`` is a preset name *or* a spec, so pydantic reports a spec's mistakes twice,
    once per union member; only the member matching the input's type is kept.
    """
    cleaned = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if (
            len(loc) >= 3
            and loc[-1] == "str"
            and error.get("type") == "string_type"
            and not isinstance(error.get("input"), str)
        ):
            continue
        entry = dict(error)
        entry["loc"] = _clean_loc(loc)
        message = str(entry.get("msg", ""))
        if message.startswith(_VALUE_ERROR_PREFIX):
            entry["msg"] = message[len(_VALUE_ERROR_PREFIX) :]
        entry.pop("ctx", None)
        if "input" in entry and not _short(entry["input"]):
            del entry["input"]
        cleaned.append(entry)
    return cleaned or errors


def _short(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float):
        return True
    if isinstance(value, str):
        return len(value) <= MAX_ECHOED_INPUT
    if isinstance(value, list | tuple | dict) and len(value) <= 16:
        try:
            return len(repr(value)) <= MAX_ECHOED_INPUT
        except RecursionError:
            return False
    return False


def _request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = clean_validation_errors(list(exc.errors()))
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


def _invalid_input(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    message = exc.reason
    if exc.choices:
        message += f" (valid choices: {', '.join(exc.choices)})"
    loc = ["body", *(int(p) if p.isdigit() else p for p in exc.field.split("."))]
    detail = [{"loc": loc, "msg": message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


def _limit_exceeded(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LimitExceeded)
    loc = ["body", *(int(p) if p.isdigit() else p for p in exc.field.split("."))]
    detail = [
        {
            "loc": loc,
            "msg": exc.reason,
            "type": "limit_exceeded",
            "limit": exc.limit,
            "maximum": exc.maximum,
        }
    ]
    code = 413 if isinstance(exc, PayloadTooLarge) else 422
    return JSONResponse({"detail": detail}, status_code=code)


def _unsupported_format(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnsupportedFormat)
    loc = ["body", *exc.field.split(".")]
    detail = [{"loc": loc, "msg": exc.reason, "type": "unsupported_format"}]
    return JSONResponse({"detail": detail}, status_code=415)


def _data_unavailable(_: Request, exc: Exception) -> JSONResponse:
    detail = [{"loc": ["body", "dataset"], "msg": str(exc), "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


def _plain(code: int) -> Callable[[Request, Exception], JSONResponse]:
    def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handler


def allowed_methods(request: Request) -> list[str]:
    """Every method that some API route serves at the request's path (for ``Allow``).

    Read from the app's OpenAPI paths (every API route, however routers are included);
    a path outside the API is a page of the web app, served to GET.
    """
    path = request.url.path
    if not (path == "/api" or path.startswith("/api/")):
        return ["GET"]
    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        table = [
            (re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", template) + "$"), set(methods))
            for template, methods in request.app.openapi()["paths"].items()
        ]
        request.app.state.allowed_methods = table
    allowed: set[str] = set()
    for pattern, methods in table:
        if pattern.match(path):
            allowed.update(method.upper() for method in methods)
    return sorted(allowed)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        methods = allowed_methods(request)
        if not methods:
            return JSONResponse({"detail": f"no API route {request.url.path}"}, status_code=404)
        headers["Allow"] = ", ".join(methods)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    logger.error("unexpected error", exc_info=exc)
    return JSONResponse({"detail": "internal server error; see the server log"}, status_code=500)


def add_exception_handlers(app: FastAPI) -> None:
    """Register every handler on ``app`` (lookups follow the exception's class hierarchy)."""
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(LimitExceeded, _limit_exceeded)
    app.add_exception_handler(UnsupportedFormat, _unsupported_format)
    app.add_exception_handler(DataUnavailable, _data_unavailable)
    app.add_exception_handler(NotFound, _plain(404))
    app.add_exception_handler(InvalidTransition, _plain(409))
    app.add_exception_handler(UnsafeModel, _plain(422))
    # No worker can answer now: retry later. A lens that failed or ran too long: the
    # reason, rather than a bare "internal error".
    app.add_exception_handler(InspectionUnavailable, _plain(503))
    app.add_exception_handler(LensFailed, _plain(500))
    # The database is locked or unreachable: a condition to retry, not a bad request.
    app.add_exception_handler(StoreError, _plain(503))
    app.add_exception_handler(ConvscopeError, _plain(400))
    app.add_exception_handler(Exception, _unexpected)
