"""service/dashboard/not_found.py: one not-found answer for every page and the compare data."""

from __future__ import annotations

from fastapi.testclient import TestClient

from parzen.service.storage import Storage
from tests.service.factories import study_spec


def test_pages_naming_what_does_not_exist_render_the_not_found_page(
    client: TestClient, storage: Storage
) -> None:
    """Breaks if a page's lookup stops ending in the HTML not-found page (a JSON 404, or a
    500, in the browser instead)."""
    storage.create_study(spec=study_spec("real"))
    paths = [
        "/studies/nope",
        "/studies/real/trials/9",
        "/trials/999",
        "/compare?study=real&study=nope",
    ]
    for path in paths:
        page = client.get(path, follow_redirects=False)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert "<h1>Not found</h1>" in page.text, path


def test_the_compare_data_of_a_missing_study_is_a_json_404(
    client: TestClient, storage: Storage
) -> None:
    """Breaks if the dashboard's data answer for a missing study stops being the API's 404."""
    storage.create_study(spec=study_spec("real"))
    answer = client.get("/dashboard/api/compare", params={"study": ["real", "nope"]})
    assert answer.status_code == 404 and "nope" in answer.json()["detail"]
