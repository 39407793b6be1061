"""docs/svix-compat.md §12 lists exactly what the OpenAPI document serves, and with what it
leaves out, exactly what the installed ``svix`` SDK sends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import svix.api

from hookline.api.app import create_api
from hookline.settings import Settings
from hookline.storage import storage_from_url

from support.keyring import TEST_SECRET_BOX

DOC = Path(__file__).parents[2] / "docs" / "svix-compat.md"
METHODS = ("get", "post", "put", "patch", "delete")
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE)` \| `([^`]+)` \|")
SDK_CALL = re.compile(r'method="(\w+)",\s*path="([^"]+)"')

Operation = tuple[str, str]


def listed(heading: str) -> list[Operation]:
    """The (method, path) rows of one ``###`` subsection of the page."""
    text = DOC.read_text()
    start = text.index(f"\n### {heading}\n")
    end = text.find("\n### ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    return [(m[1], m[2]) for line in section.splitlines() if (m := ROW.match(line))]


@pytest.fixture(scope="module")
def document_operations(tmp_path_factory: pytest.TempPathFactory) -> set[Operation]:
    """Every operation of the API's OpenAPI document."""
    path = tmp_path_factory.mktemp("compat") / "never-opened.db"
    api = create_api(Settings(), storage_from_url(f"sqlite:///{path}", secret_box=TEST_SECRET_BOX))
    document = api.openapi()
    return {
        (method.upper(), route)
        for route, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def sdk_operations() -> set[Operation]:
    """Every (method, path) the installed SDK's API modules send."""
    folder = Path(svix.api.__file__).parent
    return {
        (m[1].upper(), m[2])
        for module in folder.glob("*.py")
        for m in SDK_CALL.finditer(module.read_text())
    }


def test_the_served_lists_are_the_openapi_document(document_operations: set[Operation]) -> None:
    """Every operation listed as served is in the document, and every one there is listed."""
    served = listed("12.1 Served: Svix operations") + listed("12.2 Served: hookline's own")
    assert len(served) == len(set(served)), "an operation is listed twice"
    assert sorted(set(served) - document_operations) == [], "listed as served, not in the document"
    assert sorted(document_operations - set(served)) == [], "in the document, not listed as served"


def test_the_svix_lists_are_the_sdks_operations(document_operations: set[Operation]) -> None:
    """12.1 and 12.3 are the SDK's operations, split by whether hookline serves them."""
    svix_served = set(listed("12.1 Served: Svix operations"))
    not_served = set(listed("12.3 Not served"))
    sdk = sdk_operations()
    assert len(sdk) > 100
    assert sorted(svix_served - sdk) == [], "listed as a Svix operation, but the SDK has none"
    assert sorted(not_served & document_operations) == [], "listed as not served, but served"
    assert sorted(sdk - svix_served - not_served) == [], "an SDK operation in neither list"
    assert sorted(set(listed("12.2 Served: hookline's own")) & sdk) == [], "Svix's, in 12.2"
