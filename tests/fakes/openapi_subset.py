"""Cut the part of Neon's OpenAPI description that the client and the fake use, for the repository.

Run by hand when Neon's description changes or the fake serves a new route:

    .venv/bin/python -m tests.fakes.openapi_subset path/to/neon-api-v2.openapi.json \
        --source-date 2025-10

It keeps the path items of the operations the fake serves (`ROUTES` in neon_fake_routes.py,
which cover every call of the Neon client), only those methods and the path-level parameters,
and every component they reach through `$ref`, transitively, with the `$ref`s left as they are
(so JSON pointers into the subset are the same as into the full document). The source's
`info.version`, its date and its SHA-256 are recorded under `x-schemadesk-subset`. The tests
load the result (neon_api_v2_subset.json, beside this file) and never read anything outside
the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.fakes.neon_fake_routes import ROUTES

SUBSET_PATH = Path(__file__).with_name("neon_api_v2_subset.json")


def _refs(node: Any) -> Iterable[str]:
    """Yield every local `$ref` pointer found anywhere in a JSON value."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/"):
                raise ValueError(f"only local $refs are supported, found {ref!r}")
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _get(document: dict[str, Any], tokens: list[str]) -> Any:
    node: Any = document
    for token in tokens:
        node = node[token]
    return node


def _put(document: dict[str, Any], tokens: list[str], value: Any) -> None:
    node = document
    for token in tokens[:-1]:
        node = node.setdefault(token, {})
    node[tokens[-1]] = value


def subset(source: dict[str, Any], operations: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Return the document cut to these (METHOD, path template) operations and their $refs."""
    paths: dict[str, Any] = {}
    for method, template in sorted(set(operations)):
        item = source["paths"].get(template)
        if item is None or method.lower() not in item:
            raise KeyError(f"{method} {template} is not in the source document")
        kept = paths.setdefault(template, {})
        if "parameters" in item:
            kept["parameters"] = item["parameters"]
        kept[method.lower()] = item[method.lower()]

    result: dict[str, Any] = {"openapi": source["openapi"], "info": source["info"], "paths": paths}
    pending = list(_refs(paths))
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        tokens = [_unescape(t) for t in ref[2:].split("/")]
        if tokens[0] == "paths":
            continue  # a pointer into a kept path item: it is there already (or the cut fails)
        target = _get(source, tokens)
        _put(result, tokens, target)
        pending.extend(_refs(target))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="Neon's full OpenAPI v2 document (JSON)")
    parser.add_argument(
        "--source-date",
        help="when the source was published or copied (default: the file's modification date)",
    )
    parser.add_argument("--output", type=Path, default=SUBSET_PATH)
    args = parser.parse_args(argv)

    raw = args.source.read_bytes()
    source = json.loads(raw)
    source_date = args.source_date or datetime.fromtimestamp(
        args.source.stat().st_mtime, UTC
    ).strftime("%Y-%m-%d")
    document = subset(source, ROUTES)
    document["x-schemadesk-subset"] = {
        "source_version": source["info"].get("version", ""),
        "source_date": source_date,
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "generated_by": "python -m tests.fakes.openapi_subset",
        "operations": [f"{method} {template}" for method, template in sorted(set(ROUTES))],
    }
    args.output.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(
        f"wrote {args.output}: {len(document['paths'])} paths, "
        f"{sum(len(v) for v in document.get('components', {}).values())} components"
    )


if __name__ == "__main__":
    main()
