"""A JSON plan (EXPLAIN (FORMAT JSON)) as a tree: exclusive cost and time, the costliest node.

A node's cost and time include its children's; the exclusive figure subtracts them, which is
what tells where the work happens. With ANALYZE, a node's time is per loop, so the inclusive
time is `Actual Total Time * Actual Loops`. Parallel workers and CTEs make the subtraction
approximate; it is clamped at zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Plan keys shown as a node's details, in this order, when present.
DETAIL_KEYS = (
    "Index Cond",
    "Recheck Cond",
    "Hash Cond",
    "Merge Cond",
    "Join Filter",
    "Filter",
    "Rows Removed by Filter",
    "Rows Removed by Join Filter",
    "Rows Removed by Index Recheck",
    "Heap Fetches",
    "Sort Key",
    "Sort Method",
    "Sort Space Used",
    "Group Key",
    "Presorted Key",
    "Cache Key",
    "Workers Planned",
    "Workers Launched",
    "One-Time Filter",
)
MISESTIMATE_FACTOR = 10  # estimated vs actual rows off by this much or more is flagged


@dataclass
class PlanNode:
    """One node of a plan, with its inclusive and exclusive cost (and time, when analyzed)."""

    node_type: str
    target: str  # "on users u using users_pkey", a CTE or function name, …
    startup_cost: float
    total_cost: float
    plan_rows: float
    actual_rows: float | None  # per loop
    loops: int | None
    actual_ms: float | None  # inclusive, all loops
    relationship: str = ""  # Outer/Inner/InitPlan/SubPlan…
    details: list[tuple[str, str]] = field(default_factory=list)
    buffers: dict[str, int] = field(default_factory=dict)
    children: list[PlanNode] = field(default_factory=list)
    exclusive_cost: float = 0.0
    exclusive_ms: float | None = None
    depth: int = 0
    guide: str = ""  # tree drawing before the node name (├─, └─, │)
    share: float = 0.0  # percent of the plan's total (time if analyzed, else cost)
    costliest: bool = False
    # Below a LIMIT, a node stops early: its actual rows are not comparable with the estimate.
    under_limit: bool = False

    @property
    def total_actual_rows(self) -> float | None:
        if self.actual_rows is None or self.loops is None:
            return None
        return self.actual_rows * self.loops

    @property
    def misestimate(self) -> float | None:
        """Return how many times actual rows exceed (>1) or fall short of (<1) the estimate."""
        if self.actual_rows is None or self.loops in (None, 0):
            return None
        estimated = max(self.plan_rows, 1.0)
        actual = max(self.actual_rows, 1.0)
        return actual / estimated

    @property
    def misestimated(self) -> bool:
        if self.under_limit:
            return False
        factor = self.misestimate
        return factor is not None and (
            factor >= MISESTIMATE_FACTOR or factor <= 1 / MISESTIMATE_FACTOR
        )

    @property
    def shared_hit(self) -> int:
        return self.buffers.get("Shared Hit Blocks", 0)

    @property
    def shared_read(self) -> int:
        return self.buffers.get("Shared Read Blocks", 0)

    @property
    def never_executed(self) -> bool:
        return self.loops == 0


@dataclass
class Plan:
    """A whole plan: the root node, its nodes in display order and the run's totals."""

    root: PlanNode
    nodes: list[PlanNode]
    analyzed: bool
    planning_ms: float | None
    execution_ms: float | None
    settings: dict[str, str]
    raw: list[dict[str, Any]]

    @property
    def total_cost(self) -> float:
        return self.root.total_cost

    @property
    def costliest(self) -> PlanNode:
        return next(node for node in self.nodes if node.costliest)

    def uses_index(self, name_fragment: str) -> bool:
        """Return True when some node scans an index whose name contains `name_fragment`."""
        return any(name_fragment in node.target for node in self.nodes)


def _target(data: dict[str, Any]) -> str:
    parts = []
    if data.get("Relation Name"):
        relation = data["Relation Name"]
        if data.get("Schema"):
            relation = f"{data['Schema']}.{relation}"
        parts.append(f"on {relation}")
        if data.get("Alias") and data["Alias"] != data["Relation Name"]:
            parts.append(data["Alias"])
    if data.get("Index Name"):
        parts.append(f"using {data['Index Name']}")
    for key, label in (("CTE Name", "CTE"), ("Function Name", "function"), ("Subplan Name", "")):
        if data.get(key):
            parts.append(f"{label} {data[key]}".strip())
    if data.get("Join Type") and data["Node Type"] not in ("Hash", "Materialize"):
        parts.insert(0, f"{data['Join Type']} join")
    if data.get("Strategy") and data["Node Type"] == "Aggregate":
        parts.insert(0, data["Strategy"].lower())
    return " ".join(parts)


def _node(data: dict[str, Any], depth: int, under_limit: bool = False) -> PlanNode:
    loops = data.get("Actual Loops")
    per_loop_ms = data.get("Actual Total Time")
    node = PlanNode(
        node_type=data.get("Node Type", "?"),
        target=_target(data),
        startup_cost=float(data.get("Startup Cost", 0.0)),
        total_cost=float(data.get("Total Cost", 0.0)),
        plan_rows=float(data.get("Plan Rows", 0.0)),
        actual_rows=data.get("Actual Rows"),
        loops=loops,
        actual_ms=per_loop_ms * loops if per_loop_ms is not None and loops is not None else None,
        relationship=data.get("Parent Relationship", ""),
        depth=depth,
        under_limit=under_limit,
    )
    node.details = [
        (key, ", ".join(map(str, data[key])) if isinstance(data[key], list) else str(data[key]))
        for key in DETAIL_KEYS
        if data.get(key) not in (None, "", [], 0)
    ]
    node.buffers = {
        key: int(data[key])
        for key in ("Shared Hit Blocks", "Shared Read Blocks", "Temp Read Blocks")
        if data.get(key)
    }
    below_limit = under_limit or node.node_type == "Limit"
    node.children = [_node(child, depth + 1, below_limit) for child in data.get("Plans", [])]
    node.exclusive_cost = max(0.0, node.total_cost - sum(c.total_cost for c in node.children))
    if node.actual_ms is not None:
        children_ms = sum(c.actual_ms or 0.0 for c in node.children)
        node.exclusive_ms = max(0.0, node.actual_ms - children_ms)
    return node


def _flatten(node: PlanNode, prefix: str, last: bool, is_root: bool, out: list[PlanNode]) -> None:
    node.guide = "" if is_root else prefix + ("└─ " if last else "├─ ")
    out.append(node)
    child_prefix = "" if is_root else prefix + ("   " if last else "│  ")
    for index, child in enumerate(node.children):
        _flatten(child, child_prefix, index == len(node.children) - 1, False, out)


def plan_from_json(document: list[dict[str, Any]] | dict[str, Any]) -> Plan:
    """Return the plan tree of an EXPLAIN (FORMAT JSON) result."""
    top = document[0] if isinstance(document, list) else document
    root = _node(top["Plan"], 0)
    nodes: list[PlanNode] = []
    _flatten(root, "", True, True, nodes)
    analyzed = root.actual_ms is not None
    # Shares are of the sum of exclusive figures, so they add up to 100 % even where a parent's
    # figure is below its children's (a LIMIT stops them early; workers run in parallel).
    if analyzed:
        whole = max(sum(node.exclusive_ms or 0.0 for node in nodes), 1e-9)
        for node in nodes:
            node.share = 100.0 * (node.exclusive_ms or 0.0) / whole
        max(nodes, key=lambda n: n.exclusive_ms or 0.0).costliest = True
    else:
        whole = max(sum(node.exclusive_cost for node in nodes), 1e-9)
        for node in nodes:
            node.share = 100.0 * node.exclusive_cost / whole
        max(nodes, key=lambda n: n.exclusive_cost).costliest = True
    return Plan(
        root=root,
        nodes=nodes,
        analyzed=analyzed,
        planning_ms=top.get("Planning Time"),
        execution_ms=top.get("Execution Time"),
        settings={str(k): str(v) for k, v in (top.get("Settings") or {}).items()},
        raw=document if isinstance(document, list) else [document],
    )
