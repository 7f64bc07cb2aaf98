"""The README's pages table names every URL of the console: each route of the URL resolver
(pages, the parts they load and the actions they post to) is in it, and nothing in it is a URL
the console does not have."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from tests.request_fuzz import routes

README = Path(__file__).resolve().parents[2] / "README.md"
PLACEHOLDER = "<>"


def route_shape(pattern: str) -> str:
    """Return a route's pattern as a path with every parameter written `<>`."""
    text = pattern.replace("^", "").replace("$", "")
    text = re.sub(r"\(\?P<\w+>[^)]*\)", PLACEHOLDER, text)  # a regex route's named group
    return "/" + re.sub(r"<(?:\w+:)?\w+>", PLACEHOLDER, text)


def written_shape(path: str) -> str:
    """Return a path as the README writes it (`/data/<table>/row/?pk.<col>=…`) in that form."""
    return re.sub(r"<[^>/]*>", PLACEHOLDER, path.split("?", 1)[0])


def pages_table(readme: str) -> list[list[str]]:
    """Return the cells of each row of the table under `## Pages`."""
    section = readme[readme.index("\n## Pages\n") :]
    section = section[: section.find("\n## ", 1)]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("|") and not line.startswith("|---") and cells[0] != "page":
            rows.append(cells)
    return rows


def paths_in_table(readme: str) -> set[str]:
    """Return the paths the pages table names in its URL and actions columns, as shapes."""
    found = set()
    for cells in pages_table(readme):
        for cell in cells[1:3]:
            found |= {written_shape(p) for p in re.findall(r"`(/[^`\s]*)`", cell)}
    return found


def test_the_table_has_a_url_and_an_actions_column():
    header = next(line for line in README.read_text().splitlines() if line.startswith("| page |"))
    assert header.startswith("| page | URL | actions and parts |"), header


def test_every_route_is_in_the_readme_pages_table():
    named = paths_in_table(README.read_text())
    missing = {
        r.name: route_shape(r.pattern) for r in routes() if route_shape(r.pattern) not in named
    }
    assert not missing, f"routes the README's pages table does not mention: {missing}"


def test_every_path_in_the_pages_table_is_a_route():
    shapes = {route_shape(r.pattern) for r in routes()}
    unknown = paths_in_table(README.read_text()) - shapes
    assert not unknown, f"the README's pages table names paths the console does not have: {unknown}"


def test_shapes_of_routes_and_of_the_readme_meet():
    by_name = {r.name: route_shape(r.pattern) for r in routes()}
    assert by_name["queries:explain_analyze"] == "/queries/<>/explain/analyze/"
    assert by_name["users:row_edit"] == "/users/u/<>/rows/<>/edit/"
    assert by_name["schema:table_erd"] == "/schema/<>/erd.svg"
    assert written_shape("/users/u/<id>/rows/<table>/edit/?pk.<col>=…") == by_name["users:row_edit"]
    table = textwrap.dedent(
        """
        ## Pages

        | page | URL | actions and parts | what it does |
        |---|---|---|---|
        | Branch | `/branches/<id>/` | `/branches/<id>/reveal/` (POST) | mentions `/not/counted/` |

        ## Next
        """
    )
    assert paths_in_table(table) == {"/branches/<>/", "/branches/<>/reveal/"}
