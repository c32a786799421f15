"""The API's answer to a request that fails validation: FastAPI's own shape (422, a list of
errors with loc, msg and input), with any NaN or infinity in the echoed input written as a
string, so that refusing `{"timeout_seconds": NaN}` is a 422 rather than a failed encode.
A limit of free-form JSON (service.limits) also gets a "path", as search-space errors do."""

from __future__ import annotations

from typing import Any

from fastapi import Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from parzen.service.limits import json_safe
from parzen.service.study_checks import PATH_ERRORS


async def validation_failed(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [_with_path(error) for error in json_safe(jsonable_encoder(exc.errors()))]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def _with_path(error: dict[str, Any]) -> dict[str, Any]:
    if error.get("type") in PATH_ERRORS:
        return error | {"path": error["ctx"]["path"]}
    return error
