"""The error answers each route declares in the OpenAPI document (FastAPI's `responses=`),
so that a client can see every status it may get: the ones every API route can give are set
once on the API router (service/main.py), and each route adds its own (404 when it looks
something up, 409 when the stored state can refuse it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorPublic(BaseModel):
    detail: Any  # a sentence that says what to fix, or a list of them (422)


_MEANING = {
    400: "The body could not be read as JSON (not UTF-8, say).",
    401: "No bearer token, or an unknown or revoked one.",
    403: "The token's role is too weak, or the caller does not hold what it writes to.",
    404: "What the path names does not exist.",
    409: "The stored state refuses it (the detail says why); nothing changed.",
    413: "The request body is over the limit.",
    422: "The request is invalid: the detail lists each problem and where it is.",
    429: "Too many wrong tokens from this address: retry after Retry-After seconds.",
    503: "The database is unavailable; nothing was applied: retry after Retry-After seconds.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorPublic, "description": _MEANING[code]} for code in codes}


EVERY_API_ROUTE = errors(400, 401, 403, 413, 422, 429, 503)
LOOKUP = errors(404)
LOOKUP_OR_CONFLICT = errors(404, 409)
