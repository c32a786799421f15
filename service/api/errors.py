"""The API's answer to a request that fails validation: FastAPI's own shape (422, a list of
errors with loc, msg and input), with any NaN or infinity in the echoed input written as a
string, so that refusing `{"timeout_seconds": NaN}` is a 422 rather than a failed encode."""

from __future__ import annotations

from fastapi import Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from service.limits import json_safe


async def validation_failed(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = json_safe(jsonable_encoder(exc.errors()))
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)
