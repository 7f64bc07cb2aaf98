"""pyproject.toml declares every package the code, the tests and the benchmarks import.

The imports are read from the source (AST, every `import` and `from … import`, in functions
too); each third-party top-level module is mapped to the distributions that install it
(importlib.metadata.packages_distributions) and one of them must be declared: in
`dependencies`, in the `dev` extra, or through an extra of a declared package
(`psycopg[pool]` declares psycopg-pool). A package that is only there because another one
needs it today (as `referencing` was, through jsonschema) fails the test.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_FOLDERS = ("core", "dashboard", "benchmarks", "tests", "migrations")
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def normalized(name: str) -> str:
    """Return a distribution's name as the package index compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _name_and_extras(requirement: str) -> tuple[str, list[str]]:
    match = REQUIREMENT.match(requirement)
    assert match, f"not a requirement: {requirement!r}"
    extras = [extra.strip() for extra in (match.group(2) or "").split(",") if extra.strip()]
    return normalized(match.group(1)), extras


def declared_distributions(pyproject: dict) -> set[str]:
    """Return the distributions pyproject declares: dependencies, the dev extra, and what the
    extras asked of a declared package bring (psycopg[pool] → psycopg-pool)."""
    project = pyproject["project"]
    declared: set[str] = set()
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        name, extras = _name_and_extras(requirement)
        declared.add(name)
        for needed in importlib.metadata.requires(name) or []:
            marker = EXTRA_MARKER.search(needed)
            if marker and marker.group(1) in extras:
                declared.add(_name_and_extras(needed)[0])
    return declared


def source_files() -> list[Path]:
    """Return the repository's Python files: the source folders and the top-level scripts."""
    files = sorted(ROOT.glob("*.py"))
    for folder in SOURCE_FOLDERS:
        files.extend(sorted((ROOT / folder).rglob("*.py")))
    return files


def first_party_modules() -> set[str]:
    """Return the top-level names the repository itself provides (packages and scripts)."""
    packages = {path.name for path in ROOT.iterdir() if (path / "__init__.py").is_file()}
    return packages | {path.stem for path in ROOT.glob("*.py")}


def imported_modules(files: list[Path]) -> dict[str, set[str]]:
    """Return each top-level module imported absolutely, with the files importing it."""
    found: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def third_party_imports() -> dict[str, set[str]]:
    """Return the imported modules that are neither the standard library nor the project's."""
    own = first_party_modules()
    return {
        module: files
        for module, files in imported_modules(source_files()).items()
        if module not in sys.stdlib_module_names and module not in own
    }


def test_every_imported_package_is_declared():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = declared_distributions(pyproject)
    installers = importlib.metadata.packages_distributions()
    undeclared = {}
    for module, files in sorted(third_party_imports().items()):
        distributions = installers.get(module, [])
        if not any(normalized(name) in declared for name in distributions):
            where = ", ".join(sorted(files)[:3]) + (" …" if len(files) > 3 else "")
            undeclared[module] = f"{' or '.join(distributions) or 'no installed package'} ({where})"
    assert not undeclared, (
        f"imported but not declared in pyproject.toml (dependencies or the dev extra): {undeclared}"
    )


def test_the_parse_finds_imports_of_every_kind():
    """Imports in functions, `from` imports of submodules, the tests' and the benchmarks':
    the scan cannot pass by finding nothing; relative and first-party imports are left out."""
    found = third_party_imports()
    expected = {
        "referencing": "tests/fakes/neon_contract_spec.py",
        "psycopg_pool": "dashboard/connection_errors.py",  # declared as psycopg[pool]
        "pydantic": "dashboard/changes/fields.py",  # imported inside a function
        "hypothesis": "benchmarks/fuzz_requests.py",
        "alembic": "migrations/env.py",
        "sqlalchemy": "core/engine.py",
    }
    for module, path in expected.items():
        assert path in found.get(module, set()), (module, sorted(found.get(module, ()))[:5])
    assert not {"core", "dashboard", "tests", "benchmarks", "os", "__future__"} & set(found)


def test_extras_of_a_declared_package_count_as_declared():
    pyproject = {
        "project": {
            "dependencies": ["psycopg[binary,pool]==3.3.9"],
            "optional-dependencies": {"dev": ["Pytest_Django==4.14.0"]},
        }
    }
    declared = declared_distributions(pyproject)
    assert {"psycopg", "psycopg-binary", "psycopg-pool", "pytest-django"} <= declared
    assert "psycopg-c" not in declared  # an extra nobody asked for
