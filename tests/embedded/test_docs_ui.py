"""``/docs`` and ``/redoc`` render offline: every asset they reference comes from the server itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.support.services import Api

pytestmark = pytest.mark.e2e
ASSET_ATTRIBUTES = {"script": "src", "link": "href", "img": "src", "redoc": "spec-url"}


class References(HTMLParser):
    """Every URL a page loads: script sources, stylesheets and icons, ReDoc's spec URL."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = ASSET_ATTRIBUTES.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value]


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_asset_of_the_page_comes_from_the_server(api: Api, page: str) -> None:
    response = api.call("GET", page, role=None)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    urls = references(response.text)
    assert urls and any(u.endswith(".js") for u in urls), urls
    assert not re.search(r"(https?:)?//", response.text), "the page names another host"
    for url in urls:
        assert url.startswith("/"), f"{url} is not served by this server"
        asset = api.call("GET", url, role=None)
        assert asset.status_code == 200, (url, asset.status_code)
        assert len(asset.content) > 0
        if url.endswith(".js"):
            assert "javascript" in asset.headers["content-type"]
            assert "cdn." not in asset.text[:2000]
    if page == "/docs":
        init = api.call("GET", "/docs/assets/swagger-init.js", role=None).text
        assert 'url: "/openapi.json"' in init and "validatorUrl: null" in init


def test_unknown_asset_is_a_404(api: Api) -> None:
    assert api.call("GET", "/docs/assets/nope.js", role=None).status_code == 404
    assert api.call("GET", "/docs/assets/../../config.py", role=None).status_code == 404


def test_root_points_to_the_docs(api: Api) -> None:
    index = api.call("GET", "/", role=None)
    assert index.status_code == 200
    assert {"docs": "/docs", "redoc": "/redoc", "openapi": "/openapi.json"}.items() <= index.json().items()


def test_openapi_one_tag_per_resource_and_every_operation_described(api: Api) -> None:
    document = api.call("GET", "/openapi.json", role=None).json()
    tags = [t["name"] for t in document["tags"]]
    assert len(tags) == len(set(tags)) and not [t for t in tags if t.endswith("_v1")], tags
    assert all(t.get("description") for t in document["tags"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert operation["tags"][0] in tags, (path, method)
            assert operation.get("description"), (path, method)
            legacy = not path.startswith("/v1/") and operation["tags"] != ["health"]
            health_alias = path.startswith("/v1/") and operation["tags"] == ["health"]
            assert bool(operation.get("deprecated")) == (legacy or health_alias), (path, method)
    assert "deprecated" not in document["paths"]["/v1/runs"]["post"]
    assert "Alias of `/v1/runs`" in document["paths"]["/runs"]["post"]["description"]
