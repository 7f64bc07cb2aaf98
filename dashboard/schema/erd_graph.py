"""Graph steps of the ER diagram layout: cycles, reference depths, groups, layer order."""

from __future__ import annotations

from functools import partial

from dashboard.schema.erd_model import DiagramEdge


def _strongly_connected(nodes: list[str], targets: dict[str, list[str]]) -> list[list[str]]:
    """Return the strongly connected components, each after every component it reaches."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        # Iterative Tarjan: recursion would overflow on long reference chains.
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, next_child = work.pop()
            if next_child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = targets.get(node, [])
            if next_child < len(children):
                work.append((node, next_child + 1))
                child = children[next_child]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _depths(names: list[str], edges: list[DiagramEdge]) -> tuple[dict[str, int], list[str]]:
    """Return the layer of each linked table (by reference depth) and the unlinked tables."""
    targets: dict[str, set[str]] = {}
    referrers: dict[str, set[str]] = {}
    for edge in edges:
        if edge.source != edge.target:
            targets.setdefault(edge.source, set()).add(edge.target)
            referrers.setdefault(edge.target, set()).add(edge.source)
    ordered_targets = {node: sorted(found) for node, found in targets.items()}
    linked_names = [name for name in names if name in targets or name in referrers]
    depth: dict[str, int] = {}
    for component in _strongly_connected(linked_names, ordered_targets):
        members = set(component)
        outside = {
            t for node in component for t in ordered_targets.get(node, []) if t not in members
        }
        level = 1 + max((depth[t] for t in outside), default=-1)
        for node in component:
            depth[node] = level
    # A table that only is referenced (a lookup table) moves next to its nearest referrer, so
    # its edges stay short instead of crossing every layer in between.
    for name in linked_names:
        if name not in targets:
            depth[name] = min(depth[r] for r in referrers[name]) - 1
    unlinked = [name for name in names if name not in depth]
    return depth, unlinked


def _order_layers(layers: list[list[str]], pairs: list[tuple[str, str]]) -> list[list[str]]:
    """Return the layers reordered to shorten edges (barycenter sweeps, ties by name)."""
    neighbours: dict[str, set[str]] = {}
    for one, other in pairs:
        neighbours.setdefault(one, set()).add(other)
        neighbours.setdefault(other, set()).add(one)
    rank: dict[str, float] = {}

    def assign(layer: list[str]) -> None:
        for position, name in enumerate(layer):
            rank[name] = (position + 0.5) / len(layer)

    ordered = [sorted(layer) for layer in layers]
    for layer in ordered:
        assign(layer)
    sweep = list(range(1, len(ordered))) + list(range(len(ordered) - 2, -1, -1))

    def barycenter(name: str, same_layer: set[str]) -> tuple[float, str]:
        near = [rank[n] for n in neighbours.get(name, ()) if n not in same_layer]
        return (sum(near) / len(near) if near else rank[name], name)

    for _round in range(2):
        for level in sweep:
            members = set(ordered[level])
            ordered[level] = sorted(ordered[level], key=partial(barycenter, same_layer=members))
            assign(ordered[level])
    return ordered


def _components(names: list[str], edges: list[DiagramEdge]) -> list[list[str]]:
    """Return the groups of tables joined by foreign keys, biggest first, then by name."""
    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for edge in edges:
        if edge.source != edge.target:
            parent[root(edge.source)] = root(edge.target)
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(root(name), []).append(name)
    return sorted(groups.values(), key=lambda group: (-len(group), group[0]))
