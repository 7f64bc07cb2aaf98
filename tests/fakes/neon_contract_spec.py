"""The Neon API v2 OpenAPI document (the repository's subset), loaded once, and validators."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30WriteValidator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)
from referencing import Registry
from referencing.jsonschema import DRAFT4, DRAFT202012

from tests.fakes.openapi_subset import SUBSET_PATH

SPEC_URI = "urn:neon-api-v2"

# The part of Neon's OpenAPI v2 description the client and the fake use, committed with the tests
# (made by tests/fakes/openapi_subset.py, which records the source's version and date).
SPEC: dict[str, Any] = json.loads(SUBSET_PATH.read_text())
OAS_30 = SPEC["openapi"].startswith("3.0")
# OpenAPI 3.0 schemas are a JSON Schema draft 4 dialect; 3.1 uses draft 2020-12.
REGISTRY: Registry = Registry().with_resource(
    SPEC_URI, (DRAFT4 if OAS_30 else DRAFT202012).create_resource(SPEC)
)


def _pointer_get(pointer: str) -> Any:
    node: Any = SPEC
    for token in pointer.lstrip("#/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def response_schema_pointer(method: str, template: str, status: int) -> str | None:
    """JSON pointer of the schema the spec declares for this answer (None: no body)."""
    responses = SPEC["paths"][template][method.lower()]["responses"]
    key = str(status) if str(status) in responses else "default"
    assert key in responses, f"{method} {template} declares no {status} and no default"
    pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{key}"
    response = responses[key]
    while "$ref" in response:
        pointer = response["$ref"].lstrip("#")
        response = _pointer_get(pointer)
    if "content" not in response:
        return None
    assert "application/json" in response["content"], f"{pointer} is not JSON"
    return f"{pointer}/content/{_escape('application/json')}/schema"


def schema_errors(instance: Any, pointer: str, *, request: bool = False) -> list[str]:
    if OAS_30:
        validator_cls = OAS30WriteValidator if request else OAS30ReadValidator
        format_checker = oas30_format_checker
    else:
        validator_cls, format_checker = OAS31Validator, oas31_format_checker
    validator = validator_cls(
        {"$ref": f"{SPEC_URI}#{pointer}"}, registry=REGISTRY, format_checker=format_checker
    )
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = _pointer_get(schema["$ref"])
    return schema


def _declared(schema: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """Properties (merged over allOf/anyOf/oneOf) and additionalProperties of a schema."""
    schema = _resolve(schema)
    properties = dict(schema.get("properties", {}))
    additional = schema.get("additionalProperties")
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword, []):
            sub_properties, sub_additional = _declared(sub)
            properties.update(sub_properties)
            additional = additional if additional is not None else sub_additional
    return properties, additional


def undeclared_properties(instance: Any, schema: Mapping[str, Any], where: str = "") -> list[str]:
    """Paths of properties in the instance that the schema does not declare."""
    schema = _resolve(schema)
    found: list[str] = []
    if isinstance(instance, dict):
        properties, additional = _declared(schema)
        for key, value in instance.items():
            if key in properties:
                found += undeclared_properties(value, properties[key], f"{where}/{key}")
            elif isinstance(additional, Mapping):
                found += undeclared_properties(value, additional, f"{where}/{key}")
            elif additional is not True:
                found.append(f"{where}/{key}")
    elif isinstance(instance, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, value in enumerate(instance):
                found += undeclared_properties(value, items, f"{where}/{index}")
    return found


def assert_conforms(response: httpx.Response, method: str, template: str) -> None:
    """Fail unless the answer has the status, body and fields the spec declares."""
    pointer = response_schema_pointer(method, template, response.status_code)
    if pointer is None:
        assert response.content == b"", f"{response.status_code} should have no body"
        return
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    errors = schema_errors(body, pointer)
    assert not errors, f"{method} {template} -> {response.status_code}:\n" + "\n".join(errors)
    extra = undeclared_properties(body, _pointer_get(pointer))
    assert not extra, f"{method} {template} -> {response.status_code} undeclared: {extra}"
