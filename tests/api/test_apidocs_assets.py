"""The offline API docs page loads only files we ship, from the paths the API serves them at."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

REPO = Path(__file__).resolve().parents[2]
APIDOCS = REPO / "adapters" / "http" / "static" / "apidocs"
PAGE_URL = "http://api.example/api/v1/docs"  # where the API serves index.html
ASSETS_PREFIX = "/api/v1/docs/assets/"  # where it serves this folder
DOCUMENT_PATH = "/api/v1/openapi.json"  # where it serves the OpenAPI document


@dataclass(frozen=True, kw_only=True)
class Reference:
    tag: str
    attribute: str
    url: str


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[Reference] = []
        self.csp: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for attribute in ("src", "href", "spec-url"):
            url = values.get(attribute)
            if url is not None:
                self.found.append(Reference(tag=tag, attribute=attribute, url=url))
        if tag == "meta" and values.get("http-equiv") == "Content-Security-Policy":
            self.csp = values.get("content")


def page() -> _References:
    parser = _References()
    parser.feed((APIDOCS / "index.html").read_text(encoding="utf-8"))
    return parser


def test_the_page_refers_only_to_relative_urls():
    references = page().found
    assert references, "index.html refers to nothing; it cannot load the UI"
    absolute = [r for r in references if urlsplit(r.url).scheme or r.url.startswith("/")]
    assert not absolute, f"index.html must load only local files by relative URL: {absolute}"


def test_every_script_and_stylesheet_is_a_file_in_the_folder():
    for reference in page().found:
        if reference.attribute != "src":
            continue
        path = urlsplit(urljoin(PAGE_URL, reference.url)).path
        assert path.startswith(ASSETS_PREFIX), f"{reference.url} resolves outside the assets"
        assert (APIDOCS / path.removeprefix(ASSETS_PREFIX)).is_file(), f"{path} is not shipped"


def test_the_ui_reads_the_document_the_api_publishes():
    specs = [r.url for r in page().found if r.attribute == "spec-url"]
    assert [urlsplit(urljoin(PAGE_URL, url)).path for url in specs] == [DOCUMENT_PATH]


def test_the_content_security_policy_allows_no_other_origin():
    csp = page().csp
    assert csp is not None, "index.html has no Content-Security-Policy"
    for directive in csp.split(";"):
        name, *sources = directive.split()
        foreign = [s for s in sources if re.match(r"https?:|\*|//", s)]
        assert not foreign, f"{name} lets the page load from {foreign}"
    assert "default-src 'self'" in csp


def test_the_vendored_bundle_is_the_one_the_readme_names():
    digest = hashlib.sha256((APIDOCS / "redoc.standalone.js").read_bytes()).hexdigest()
    readme = (APIDOCS / "README.md").read_text(encoding="utf-8")
    assert f"`{digest}`" in readme, "redoc.standalone.js differs from the file README.md records"
    assert "MIT" in (APIDOCS / "LICENSE").read_text(encoding="utf-8")
