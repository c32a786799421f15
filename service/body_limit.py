"""A cap on request bodies (PARZEN_MAX_BODY_BYTES), as pure ASGI middleware.

FastAPI parses a JSON body on the event loop, so one huge report would stall every other
request (`/healthz` included) for as long as it takes: the cap bounds that time. This follows
Starlette's own `RequestBodyLimitMiddleware` (starlette.middleware.body_limit) - refuse at
once when Content-Length is over the cap, else count the chunks as they arrive and stop
reading the moment they pass it - but answers in the API's JSON shape and names the limit.
Checkpoint uploads (PUT .../artifact) are exempt: they stream to the artifact store, which
has its own limit.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXEMPT = re.compile(r"^/api/v1/trials/[^/]+/artifact$")


class BodyTooLarge(HTTPException):
    """Raised from `receive`: FastAPI passes HTTPExceptions through its body parsing, and
    its handler answers 413 with this detail."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return (
        f"request body over {limit} bytes (PARZEN_MAX_BODY_BYTES); send less per request, "
        "e.g. fewer metrics per report"
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "PUT" and EXEMPT.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            response = JSONResponse({"detail": too_large_message(self.max_bytes)}, 413)
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
