"""Signing in to the dashboard: a token kept in an HttpOnly, SameSite=Strict cookie.

Browsers cannot send bearer headers when they navigate, so /login checks a token once and
keeps it in a cookie that scripts cannot read and other sites cannot make the browser send.
Pages and data accept that cookie or an `Authorization: Bearer` header, checked by the API's
own rules (`service.deps.current_token` and `require`): a viewer token is the least needed,
checked before any study is looked up (`StudyDep`). Failed tokens, here and at /login, count
against the client's address as on the API. In local mode (auth off, loopback clients only)
nothing is asked, as for the API.

/login and /logout take form posts only from this site's own pages: a browser names the page
that sent a form in `Origin` (modern browsers on every cross-origin POST, `null` from opaque
origins such as sandboxed frames or data: URLs), so anything but this host is refused. A post
without an Origin header is let through: no browser sends a cross-site form post without one
(old ones omit it only on same-origin posts), and curl or scripts never carry a victim's
cookie, so they cannot be used for login CSRF; Sec-Fetch-Site, where sent, must agree.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from parzen.service.api.params import StudyName
from parzen.service.dashboard.templating import render
from parzen.service.deps import (
    SettingsDep,
    StorageDep,
    authenticate,
    check_role,
    current_token,
)
from parzen.service.storage import StudyRecord, TokenRecord

COOKIE = "parzen_token"
COOKIE_MAX_AGE = 7 * 24 * 3600
MAX_FORM_BYTES = 4096

router = APIRouter(include_in_schema=False)
_bearer = HTTPBearer(auto_error=False)


class LoginRequired(Exception):
    """A page was asked for without a usable token: the browser is sent to /login."""

    def __init__(self, next_url: str, refused: bool) -> None:
        super().__init__(next_url)
        self.next_url, self.refused = next_url, refused


async def _credentials(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> HTTPAuthorizationCredentials | None:
    if bearer is not None:
        return bearer
    cookie = request.cookies.get(COOKIE)
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=cookie) if cookie else None


CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_credentials)]


async def viewer_token(request: Request, credentials: CredentialsDep) -> TokenRecord:
    """The dashboard's data endpoints: 401, 403 or 429 as the API answers them."""
    return check_role(await current_token(request, credentials), "viewer")


async def page_token(request: Request, credentials: CredentialsDep) -> TokenRecord:
    """The dashboard's pages: like `viewer_token`, but a missing or refused token leads to
    the sign-in form rather than a JSON error."""
    try:
        return await viewer_token(request, credentials)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_401_UNAUTHORIZED:
            raise
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target, refused=credentials is not None) from exc


ViewerDep = Annotated[TokenRecord, Depends(viewer_token)]
PageViewerDep = Annotated[TokenRecord, Depends(page_token)]


def viewer_study(storage: StorageDep, name: StudyName, _: ViewerDep) -> StudyRecord:
    """The study of a data route, looked up only once the viewer check let the caller in."""
    return storage.get_study(name=name)


StudyDep = Annotated[StudyRecord, Depends(viewer_study)]


def redirect_to_login(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    query = f"next={quote(exc.next_url, safe='')}" + ("&refused=1" if exc.refused else "")
    response = RedirectResponse(f"/login?{query}", status.HTTP_303_SEE_OTHER)
    if exc.refused:
        response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/login")
def login_form(
    request: Request, settings: SettingsDep, next: str = "/", refused: bool = False
) -> Response:
    if not settings.auth:
        return RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    error = "That token was refused (unknown or revoked): sign in again." if refused else ""
    return _login_page(request, _safe_next(next), error, status.HTTP_200_OK)


@router.post("/login")
async def login(request: Request, storage: StorageDep, settings: SettingsDep) -> Response:
    _same_origin(request)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "the form is too large")
    form = parse_qs(body.decode("utf-8", "replace"))
    token, next_url = form.get("token", [""])[0].strip(), _safe_next(form.get("next", ["/"])[0])
    if not settings.auth:
        return RedirectResponse(next_url, status.HTTP_303_SEE_OTHER)
    try:
        # A database round trip: in the thread pool, so the event loop serves on meanwhile.
        known = bool(token) and (
            await run_in_threadpool(authenticate, request, storage, token) is not None
        )
    except HTTPException as exc:  # too many failed tokens from this address
        page = _login_page(request, next_url, str(exc.detail).capitalize() + ".", exc.status_code)
        page.headers.update(exc.headers or {})
        return page
    if not known:
        error = "Unknown or revoked token. Ask an admin for one: parzen token create --role viewer"
        return _login_page(request, next_url, error, status.HTTP_401_UNAUTHORIZED)
    response = RedirectResponse(next_url, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    _same_origin(request)
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/")
    return response


def _login_page(request: Request, next_url: str, error: str, code: int) -> Response:
    return render(request, "login.html", {"next": next_url, "error": error, "auth": True}, code)


def _safe_next(target: str) -> str:
    """Only a path of this site: never an open redirect to another host."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return "/" if "\\" in target else target


def _same_origin(request: Request) -> None:
    """Refuse a form post sent from any page but this site's own (see the module's doc)."""
    origin = request.headers.get("origin")
    host = request.headers.get("host", "").lower()
    if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"form posts from other sites are refused (Origin {origin!r}, this site {host!r}):"
            " sign in from this server's own /login page",
        )
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "form posts from other sites are refused: sign in from this server's own /login page",
        )
