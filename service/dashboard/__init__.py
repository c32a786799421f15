"""The web dashboard: server-rendered pages at `/`, their data under `/dashboard/api`,
static files (and Plotly.js, from the installed plotly package) under `/dashboard/static`."""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from service.dashboard import analysis, auth, compare, data, pages
from service.dashboard.cache import StudyCache
from service.dashboard.templating import HERE

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def install(app: FastAPI) -> None:
    app.state.dashboard_cache = StudyCache()
    app.add_exception_handler(auth.LoginRequired, auth.redirect_to_login)
    for module in (auth, pages, data, analysis, compare):
        app.include_router(module.router)

    @app.get("/dashboard/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        # The URL carries plotly's version (see base.html), so browsers may keep it a day.
        return FileResponse(
            PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    app.mount("/dashboard/static", StaticFiles(directory=HERE / "static"), name="dashboard")
