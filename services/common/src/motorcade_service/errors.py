"""Error bodies and handlers: every error is JSON with a one-line ``detail``; validation errors list each field."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from motorcade_service.logs import log_event

log = logging.getLogger("motorcade_service.errors")


class StoreError(Exception):
    """A request the data does not allow; carries the HTTP status it maps to (subclasses set ``status_code``)."""

    status_code = 400

    def __init__(self, detail: str, field: str = "body") -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class ErrorBody(BaseModel):
    detail: str


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ValidationErrorBody(BaseModel):
    detail: str
    errors: list[FieldError]


def _response(description: str, model: type[BaseModel] = ErrorBody) -> dict[str, Any]:
    return {"model": model, "description": description}


VALIDATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: _response("Invalid input; `errors` names each field.", ValidationErrorBody)
}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _response("Missing, invalid or revoked credentials."),
    403: _response("The credentials lack a required scope."),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _response("No such resource.")}
UNREADABLE_BODY: dict[int | str, dict[str, Any]] = {400: _response("The body could not be decoded, or was rejected.")}
BODY_TOO_LARGE: dict[int | str, dict[str, Any]] = {413: _response("The request body is larger than allowed.")}
DATABASE_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: _response(
        "The database could not be reached in time (a restart, a restore, an outage). Retry after `Retry-After` "
        "seconds."
    )
}
# Seconds a client is told to wait before it retries a request the database was unavailable for.
RETRY_AFTER_SECONDS = 5


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _message(error: dict[str, Any]) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = [
        FieldError(
            field=_field_name(tuple(err.get("loc", ()))), message=_message(err), type=str(err.get("type", "invalid"))
        )
        for err in exc.errors()
    ]
    # Unknown field names come from the client and could carry anything: they are logged as "<extra>".
    logged = {"<extra>" if e.type == "extra_forbidden" else e.field for e in errors}
    log_event(log, "request_invalid", level=logging.INFO, fields=sorted(logged))
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:3])
    body = ValidationErrorBody(detail=f"invalid input: {summary}", errors=errors)
    return JSONResponse(body.model_dump(), status_code=422)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


async def store_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StoreError):
        raise exc
    body: dict[str, object] = {"detail": exc.detail}
    if exc.status_code == 422:
        body["errors"] = [{"field": exc.field, "message": exc.detail, "type": "value_error"}]
    return JSONResponse(body, status_code=exc.status_code)


async def database_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    """The database unreachable, its connections closed under the request, or no pooled connection in time: a 503 the
    client may retry, not a 500. Logged with the error's class and SQLSTATE only (its text can quote statements)."""
    if not isinstance(exc, psycopg.OperationalError):
        raise exc
    log_event(
        log,
        "database_unavailable",
        level=logging.WARNING,
        error=type(exc).__name__,
        sqlstate=exc.sqlstate,
        request_id=request.scope.get("request_id"),
    )
    return JSONResponse(
        {"detail": "the database is unavailable; retry in a few seconds"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected_error", exc_info=exc, extra={"fields": {"request_id": request.scope.get("request_id")}})
    return JSONResponse({"detail": "internal error; the request was not applied"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(StoreError, store_error_handler)
    app.add_exception_handler(psycopg.OperationalError, database_unavailable_handler)  # PoolTimeout is one too
    app.add_exception_handler(Exception, unexpected_error_handler)
