"""The environment variables the code reads, found by parsing it (ast), not from a list.

A read is `env(NAME)` / `env.<kind>(NAME)` on django-environ's `Env` (dashboard/config.py's
`env`), `os.environ.get(NAME)`, `os.environ[NAME]`, `NAME in os.environ`, `os.getenv(NAME)`,
and the same through a local copy or alias of `os.environ` (`environ = os.environ if … else
environ`, `dict(os.environ)`). `os.environ.setdefault` and assignments are writes, not reads.

The name is resolved where it is not written at the read itself:
- a parameter of the enclosing function: every call of that function in the scanned code gives
  its argument (so `checked_database_url("DATABASE_URL")` is a read of DATABASE_URL, and a
  function receiving `os.environ` as a parameter reads through it);
- module constants, `a if c else b`, `a or b`, a module-level dict indexed by a constant, a loop
  over a tuple of names or over a dict's items, and argparse options' defaults (`--password-env`
  with `default="OPERATOR_PASSWORD"`, read as `args.password_env` or a `password_env` parameter).
A read whose name cannot be resolved so is reported as unresolved, with where it is, so that a
new one is looked at instead of slipping through.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the console and the application read: their packages, Alembic's env.py, gunicorn's file.
SCANNED = ("core", "dashboard", "migrations/env.py", "gunicorn.conf.py")
# django-environ's Env methods that read a variable (its first argument).
ENV_METHODS = {
    "str",
    "int",
    "bool",
    "float",
    "list",
    "tuple",
    "dict",
    "json",
    "url",
    "path",
    "db_url",
    "db",
    "cache_url",
    "cache",
    "email_url",
    "email",
    "search_url",
    "get_value",
}
MAPPING_READS = {"get", "pop"}


@dataclass
class Reads:
    """What the scanned code reads: variable -> where, and reads whose name is not resolved."""

    names: dict[str, set[str]] = field(default_factory=dict)
    unresolved: dict[str, str] = field(default_factory=dict)  # "file:line" -> the key's source

    def add(self, name: str, where: str) -> None:
        if name:
            self.names.setdefault(name, set()).add(where)


@dataclass
class Module:
    name: str
    path: str  # relative to the repository
    tree: ast.Module
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]
    constants: dict[str, ast.expr]  # module-level NAME = value (assigned once)
    imports: dict[str, tuple[str, str]]  # local name -> (module, name); name "" for a module
    option_defaults: dict[str, str]  # argparse dest -> default
    env_instance: bool  # `env` is django-environ's Env here (made here, or imported: Finder)


def source_files(root: Path = ROOT, scanned: Iterable[str] = SCANNED) -> Iterator[Path]:
    for entry in scanned:
        path = root / entry
        if path.is_dir():
            yield from sorted(path.rglob("*.py"))
        else:
            yield path


def _module_name(relative: str) -> str:
    return relative.removesuffix(".py").replace("/", ".").removesuffix(".__init__")


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _option_defaults(tree: ast.Module, constants: dict[str, ast.expr]) -> dict[str, str]:
    """Return argparse options' string defaults by dest (a module constant is followed)."""
    defaults = {}
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_argument"
        ):
            continue
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        default = keywords.get("default")
        if isinstance(default, ast.Name) and default.id in constants:
            default = constants[default.id]
        if not (isinstance(default, ast.Constant) and isinstance(default.value, str)):
            continue
        dest = keywords.get("dest")
        if isinstance(dest, ast.Constant) and isinstance(dest.value, str):
            defaults[dest.value] = default.value
            continue
        flags = [a.value for a in node.args if isinstance(a, ast.Constant)]
        long = [f for f in flags if isinstance(f, str) and f.startswith("--")]
        if long:
            defaults[long[0][2:].replace("-", "_")] = default.value
    return defaults


def parse_module(path: Path, root: Path = ROOT) -> Module:
    relative = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(), filename=relative)
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions.setdefault(node.name, node)
    assigned: dict[str, list[ast.expr]] = {}
    imports: dict[str, tuple[str, str]] = {}
    env_instance = False
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
                    if target.id == "env" and "Env(" in ast.unparse(node.value):
                        env_instance = True
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                imports[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imports[alias.asname or alias.name] = (alias.name, "")
    constants = {name: values[0] for name, values in assigned.items() if len(values) == 1}
    return Module(
        _module_name(relative),
        relative,
        tree,
        functions,
        constants,
        imports,
        _option_defaults(tree, constants),
        env_instance,
    )


@dataclass(frozen=True)
class Scope:
    """Where an expression is evaluated: its module, and its function (None: module level)."""

    module: Module
    function: ast.FunctionDef | ast.AsyncFunctionDef | None

    def parameters(self) -> list[str]:
        if self.function is None:
            return []
        arguments = self.function.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        return [a.arg for a in every]


class Finder:
    """Finds the reads of a set of modules (see the module's docstring)."""

    def __init__(self, modules: list[Module]) -> None:
        self.modules = {m.name: m for m in modules}
        for module in modules:  # `from dashboard.config import env`
            source = module.imports.get("env")
            if source and source[1] == "env" and source[0] in self.modules:
                module.env_instance |= self.modules[source[0]].env_instance
        # (module, function, parameter): the parameter holds a variable's name / the environment
        self.name_parameters: set[tuple[str, str, str]] = set()
        self.mapping_parameters: set[tuple[str, str, str]] = set()

    # -- evaluating names --------------------------------------------------------------------
    def strings(self, node: ast.AST, scope: Scope, loops: dict[str, set[str]]) -> set[str] | None:
        """Return the strings `node` can be, or None when that is not known statically."""
        module = scope.module
        if isinstance(node, ast.Constant):
            return {node.value} if isinstance(node.value, str) else None
        if isinstance(node, ast.IfExp):
            return self._union([node.body, node.orelse], scope, loops)
        if isinstance(node, ast.BoolOp):
            return self._union(node.values, scope, loops)
        if isinstance(node, ast.Name):
            if node.id in loops:
                return loops[node.id]
            if node.id in scope.parameters():  # an argparse option's value, or the caller's
                default = module.option_defaults.get(node.id)
                return {default} if default else None
            if node.id in module.constants:
                return self.strings(module.constants[node.id], Scope(module, None), {})
            return None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr in module.option_defaults and node.value.id in ("args", "options"):
                return {module.option_defaults[node.attr]}
            return None
        if isinstance(node, ast.Subscript):
            table = self._dict_of(node.value, scope)
            keys = self.strings(node.slice, scope, loops)
            if table is None or keys is None:
                return None
            values = [v for k, v in zip(table.keys, table.values, strict=True) if k is not None]
            chosen = [
                value
                for key, value in zip([k for k in table.keys if k is not None], values, strict=True)
                if (self.strings(key, Scope(module, None), {}) or set()) & keys
            ]
            return self._union(chosen, scope, loops) if chosen else None
        return None

    def _union(
        self, nodes: Iterable[ast.AST], scope: Scope, loops: dict[str, set[str]]
    ) -> set[str] | None:
        found: set[str] = set()
        for node in nodes:
            part = self.strings(node, scope, loops)
            if part is None:
                return None
            found |= part
        return found

    def _dict_of(self, node: ast.AST, scope: Scope) -> ast.Dict | None:
        if isinstance(node, ast.Dict):
            return node
        if isinstance(node, ast.Name) and node.id in scope.module.constants:
            value = scope.module.constants[node.id]
            return value if isinstance(value, ast.Dict) else None
        return None

    def loop_bindings(self, scope: Scope) -> dict[str, set[str]]:
        """Return the names bound by loops over known strings in `scope` (flow-insensitive)."""
        body = scope.function if scope.function is not None else scope.module.tree
        bindings: dict[str, set[str]] = {}
        for node in ast.walk(body):
            if isinstance(node, ast.For | ast.comprehension):
                bindings.update(self._bound(node.target, node.iter, scope, bindings))
        return bindings

    def _bound(
        self, target: ast.expr, source: ast.expr, scope: Scope, loops: dict[str, set[str]]
    ) -> dict[str, set[str]]:
        if isinstance(source, ast.Tuple | ast.List) and isinstance(target, ast.Name):
            found = self._union(source.elts, scope, loops)
            return {target.id: found} if found is not None else {}
        if (
            isinstance(source, ast.Call)
            and isinstance(source.func, ast.Attribute)
            and source.func.attr in ("items", "keys", "values")
        ):
            table = self._dict_of(source.func.value, scope)
            if table is None:
                return {}
            keys = [k for k in table.keys if k is not None]
            top = Scope(scope.module, None)
            if source.func.attr == "items" and isinstance(target, ast.Tuple):
                names = [e.id if isinstance(e, ast.Name) else "" for e in target.elts]
                out = {}
                for name, nodes in zip(names, (keys, table.values), strict=False):
                    found = self._union(nodes, top, {})
                    if name and found is not None:
                        out[name] = found
                return out
            if isinstance(target, ast.Name):
                nodes = table.values if source.func.attr == "values" else keys
                found = self._union(nodes, top, {})
                return {target.id: found} if found is not None else {}
        return {}

    # -- what is the environment --------------------------------------------------------------
    def aliases(self, scope: Scope) -> set[str]:
        """Return the local names that hold the environment (or a copy of it) in `scope`."""
        names = {
            p
            for p in scope.parameters()
            if scope.function is not None
            and (scope.module.name, scope.function.name, p) in self.mapping_parameters
        }
        body = scope.function if scope.function is not None else scope.module.tree
        changed = True
        while changed:  # `a = os.environ`, then `b = dict(a)`
            changed = False
            for node in ast.walk(body):
                if isinstance(node, ast.Assign) and self.is_environment(node.value, names):
                    targets = {t.id for t in node.targets if isinstance(t, ast.Name)}
                    changed |= not targets <= names
                    names |= targets
        return names

    def is_environment(self, node: ast.AST, aliases: set[str]) -> bool:
        if _is_os_environ(node):
            return True
        if isinstance(node, ast.Name):
            return node.id in aliases
        if isinstance(node, ast.IfExp):  # `os.environ if environ is None else environ`
            return self.is_environment(node.body, aliases) or self.is_environment(
                node.orelse, aliases
            )
        if isinstance(node, ast.Dict):  # `{**os.environ, "PORT": …}`
            return any(
                key is None and self.is_environment(value, aliases)
                for key, value in zip(node.keys, node.values, strict=True)
            )
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "dict"
            and len(node.args) == 1
            and self.is_environment(node.args[0], aliases)
        )

    # -- reads and calls ----------------------------------------------------------------------
    def keys_read(self, scope: Scope) -> Iterator[tuple[ast.expr, int]]:
        """Yield the key expression of every read in `scope` (not in nested functions)."""
        aliases = self.aliases(scope)
        module = scope.module
        for node in self._own_nodes(scope):
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                if self.is_environment(node.value, aliases):
                    yield node.slice, node.lineno
            elif isinstance(node, ast.Compare) and len(node.ops) == 1:
                if isinstance(node.ops[0], ast.In | ast.NotIn) and self.is_environment(
                    node.comparators[0], aliases
                ):
                    yield node.left, node.lineno
            elif isinstance(node, ast.Call) and self._reads(node, aliases, module):
                key = node.args[0] if node.args else None
                for keyword in node.keywords:
                    if keyword.arg in ("var", "key") and key is None:
                        key = keyword.value
                if key is not None:
                    yield key, node.lineno

    def _reads(self, call: ast.Call, aliases: set[str], module: Module) -> bool:
        """Return True when `call` reads a variable named by its first argument."""
        func = call.func
        if isinstance(func, ast.Name):
            return func.id == "env" and module.env_instance
        if not isinstance(func, ast.Attribute):
            return False
        if func.attr in MAPPING_READS and self.is_environment(func.value, aliases):
            return True
        owner = func.value.id if isinstance(func.value, ast.Name) else ""
        return (func.attr == "getenv" and owner == "os") or (
            module.env_instance and func.attr in ENV_METHODS and owner == "env"
        )

    def _own_nodes(self, scope: Scope) -> Iterator[ast.AST]:
        """Yield the nodes of `scope`'s body, without those of functions defined inside it."""
        body = scope.function if scope.function is not None else scope.module.tree
        stack: list[ast.AST] = list(ast.iter_child_nodes(body))
        while stack:
            node = stack.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            yield node
            stack.extend(ast.iter_child_nodes(node))

    def callee(self, call: ast.Call, module: Module) -> tuple[Module, ast.FunctionDef] | None:
        """Return the scanned function `call` calls, when it can be told."""
        func = call.func
        if isinstance(func, ast.Name):
            if func.id in module.functions:
                found = module.functions[func.id]
                return (module, found) if isinstance(found, ast.FunctionDef) else None
            source = module.imports.get(func.id)
            if source and source[1] and source[0] in self.modules:
                other = self.modules[source[0]]
                found = other.functions.get(source[1])
                return (other, found) if isinstance(found, ast.FunctionDef) else None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            source = module.imports.get(func.value.id)
            if source is not None:
                name = f"{source[0]}.{source[1]}".strip(".") if source[1] else source[0]
                other = self.modules.get(name)
                found = other.functions.get(func.attr) if other else None
                if other is not None and isinstance(found, ast.FunctionDef):
                    return other, found
        return None

    def arguments(
        self, call: ast.Call, function: ast.FunctionDef
    ) -> Iterator[tuple[str, ast.expr]]:
        """Yield (parameter, argument) for the arguments of `call` to `function`."""
        positional = [*function.args.posonlyargs, *function.args.args]
        names = [a.arg for a in positional]
        if names and names[0] in ("self", "cls") and isinstance(call.func, ast.Attribute):
            names = names[1:]
        for name, argument in zip(names, call.args, strict=False):
            if not isinstance(argument, ast.Starred):
                yield name, argument
        for keyword in call.keywords:
            if keyword.arg:
                yield keyword.arg, keyword.value

    def scopes(self) -> Iterator[Scope]:
        for module in self.modules.values():
            yield Scope(module, None)
            for function in module.functions.values():
                yield Scope(module, function)

    def find(self) -> Reads:
        # The environment passed down as an argument, to a fixed point.
        changed = True
        while changed:
            changed = False
            for scope in self.scopes():
                aliases = self.aliases(scope)
                for node in self._own_nodes(scope):
                    if not isinstance(node, ast.Call):
                        continue
                    target = self.callee(node, scope.module)
                    if target is None:
                        continue
                    for parameter, argument in self.arguments(node, target[1]):
                        key = (target[0].name, target[1].name, parameter)
                        if key in self.mapping_parameters:
                            continue
                        if self.is_environment(argument, aliases):
                            self.mapping_parameters.add(key)
                            changed = True
        reads = Reads()
        pending: list[tuple[Scope, ast.expr, int]] = []
        for scope in self.scopes():
            pending += [(scope, key, line) for key, line in self.keys_read(scope)]
        seen_parameters: set[tuple[str, str, str]] = set()
        while pending:
            scope, key, line = pending.pop()
            where = f"{scope.module.path}:{line}"
            names = self.strings(key, scope, self.loop_bindings(scope))
            if names is not None:
                for name in names:
                    reads.add(name, where)
                continue
            if (
                isinstance(key, ast.Name)
                and scope.function is not None
                and key.id in scope.parameters()
            ):
                parameter = (scope.module.name, scope.function.name, key.id)
                if parameter not in seen_parameters:
                    seen_parameters.add(parameter)
                    pending += self._calls_giving(parameter)
                continue
            reads.unresolved[where] = ast.unparse(key)
        return reads

    def _calls_giving(self, parameter: tuple[str, str, str]) -> list[tuple[Scope, ast.expr, int]]:
        """Return (scope, argument, line) for every call that gives `parameter` a value."""
        module_name, function_name, name = parameter
        found = []
        for scope in self.scopes():
            for node in self._own_nodes(scope):
                if not isinstance(node, ast.Call):
                    continue
                target = self.callee(node, scope.module)
                if target is None or (target[0].name, target[1].name) != (
                    module_name,
                    function_name,
                ):
                    continue
                for parameter_name, argument in self.arguments(node, target[1]):
                    if parameter_name == name:
                        found.append((scope, argument, node.lineno))
        return found


def environment_reads(root: Path = ROOT, scanned: Iterable[str] = SCANNED) -> Reads:
    """Return every environment variable the scanned code reads (see the module docstring)."""
    modules = [parse_module(path, root) for path in source_files(root, scanned)]
    return Finder(modules).find()
