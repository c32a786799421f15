"""The dashboard's one answer to a page naming what does not exist: the not-found page
(404), with the signed-in token's header. Pages look up through `PageStudyDep` or inside
`found(token)`; `install` (service/dashboard/__init__.py) registers the one handler."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request, status
from fastapi.responses import Response

from parzen.service.api.params import StudyName
from parzen.service.dashboard.auth import PageViewerDep
from parzen.service.dashboard.templating import render
from parzen.service.deps import StorageDep
from parzen.service.storage import NotFoundError, StudyRecord, TokenRecord


class PageNotFound(Exception):
    def __init__(self, message: str, token: TokenRecord) -> None:
        super().__init__(message)
        self.token = token


@contextmanager
def found(token: TokenRecord) -> Iterator[None]:
    """A lookup in a page: what it cannot find is the not-found page, not a JSON 404."""
    try:
        yield
    except NotFoundError as exc:
        raise PageNotFound(str(exc), token) from exc


def page_study(storage: StorageDep, name: StudyName, token: PageViewerDep) -> StudyRecord:
    """The study a page's path names, looked up once the viewer is signed in."""
    with found(token):
        return storage.get_study(name=name)


PageStudyDep = Annotated[StudyRecord, Depends(page_study)]


async def not_found_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageNotFound)  # registered for PageNotFound only
    context = {"auth": request.app.state.settings.auth, "token": exc.token, "message": str(exc)}
    return render(request, "not_found.html", context, status.HTTP_404_NOT_FOUND)
