"""Entity-relationship diagrams drawn as SVG on the server: no JavaScript, no external assets.

The layout is deterministic (same schema, same picture) and layered, as in Sugiyama-style
graph drawing:

- Tables joined by foreign keys form groups; each group is laid out on its own and the groups
  are packed in rows, biggest first. Tables without any foreign key form a grid underneath.
- Inside a group, a table that references nothing is in layer 0 (left) and a table referencing
  layer-k tables is in layer k + 1, so every arrow points leftwards at what is referenced.
  Cycles are collapsed first (a strongly connected component shares a layer), and a table that
  is only ever referenced (a lookup table) moves next to its nearest referrer.
- An edge spanning several layers, or crossing a column of a layer too tall for the page (which
  wraps), runs through a waypoint in each column it crosses, so it never passes behind a box and
  never seems to start at one. Edges heading for the same table share their waypoints.
- Inside a layer, tables are ordered by the average position of their neighbours (barycenter
  sweeps, ties broken by name).
- Above `COMPACT_ABOVE` tables, boxes show only the name and a column count.

Every name is escaped (and characters XML forbids are replaced), so a table called `<script>`
is drawn as text. Only presentation attributes are used (no `style`), which the page's Content
Security Policy allows both inline and when the SVG is opened on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from itertools import pairwise

COMPACT_ABOVE = 40
MAX_ROWS = 16
FONT_SIZE = 12
CHAR_WIDTH = 7.3  # average advance of a 12px monospace glyph
ROW_HEIGHT = 18
HEADER_HEIGHT = 26
PADDING = 10
BOX_MIN_WIDTH = 150
BOX_MAX_WIDTH = 340
COMPACT_HEIGHT = 42
COMPACT_MAX_WIDTH = 260
LAYER_GAP = 96
COMPACT_LAYER_GAP = 60
BOX_GAP = 22
MARGIN = 20
MAX_COLUMN_HEIGHT = 1300
GRID_MIN_WIDTH = 1200
GRID_GAP = 48
LOOP_ROOM = 30  # a self-reference loops out to the right of its box
WAYPOINT_HEIGHT = 6
WAYPOINT_MIN_WIDTH = 40
GROUP_GAP = 72  # wider than a compact layer gap, so separate groups look separate
GROUP_ROW_GAP = 36

FONT_FAMILY = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace'
COLOURS = {
    "box": "#ffffff",
    "border": "#c9d0db",
    "header": "#eef2ff",
    "header_ink": "#1d2330",
    "focus": "#2458d3",
    "focus_ink": "#ffffff",
    "ink": "#1d2330",
    "muted": "#667085",
    "pk": "#a15c00",
    "fk": "#2458d3",
    "edge": "#98a2b3",
}

_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class DiagramColumn:
    """One column as the diagram shows it."""

    name: str
    type: str
    primary_key: bool = False
    foreign_key: bool = False


@dataclass(frozen=True)
class DiagramTable:
    """One box: a table and its columns."""

    name: str
    columns: tuple[DiagramColumn, ...] = ()


@dataclass(frozen=True)
class DiagramEdge:
    """One foreign key: `source` references `target`."""

    name: str
    source: str
    source_columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]


@dataclass(frozen=True)
class Diagram:
    """The tables and foreign keys to draw; `focus` is the table a neighbourhood centres on."""

    schema: str
    tables: tuple[DiagramTable, ...]
    edges: tuple[DiagramEdge, ...]
    focus: str | None = None


@dataclass
class Box:
    """Where a table is drawn."""

    table: DiagramTable
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0
    layer: int = -1  # -1: in the grid of tables without foreign keys
    shown_columns: tuple[DiagramColumn, ...] = ()

    def row_y(self, column: str, compact: bool) -> float:
        """Return the y of the middle of `column`'s row (the box's middle if not shown)."""
        if not compact:
            for index, shown in enumerate(self.shown_columns):
                if shown.name == column:
                    return self.y + HEADER_HEIGHT + ROW_HEIGHT * index + ROW_HEIGHT / 2 + 2
        return self.y + min(self.height / 2, HEADER_HEIGHT / 2 + 4)


@dataclass
class Layout:
    """Positions of every box and the size of the drawing."""

    boxes: dict[str, Box]
    width: float
    height: float
    compact: bool
    layers: list[list[str]] = field(default_factory=list)
    # For edges spanning several layers: (left, right, y) of each layer crossed, source first.
    routes: dict[tuple[str, str], list[tuple[float, float, float]]] = field(default_factory=dict)


def clean(value: str) -> str:
    """Return `value` escaped for XML text and attributes, with forbidden characters replaced."""
    return escape(_XML_FORBIDDEN.sub("\ufffd", value), quote=True)


def _shorten(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    return value[: max(1, limit - 1)] + "…"


def _text_width(characters: int) -> float:
    return characters * CHAR_WIDTH


def _box_size(table: DiagramTable, compact: bool) -> tuple[float, float, tuple]:
    if compact:
        width = _text_width(len(table.name)) + 2 * PADDING
        return min(COMPACT_MAX_WIDTH, max(BOX_MIN_WIDTH, width)), COMPACT_HEIGHT, ()
    shown = table.columns[:MAX_ROWS]
    widest = max((4 + len(c.name) + 2 + len(c.type) for c in shown), default=0)
    width = max(_text_width(len(table.name)), _text_width(widest)) + 2 * PADDING
    rows = len(shown) + (1 if len(table.columns) > MAX_ROWS else 0)
    height = HEADER_HEIGHT + ROW_HEIGHT * max(rows, 1) + 6
    return min(BOX_MAX_WIDTH, max(BOX_MIN_WIDTH, width)), height, shown


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


def _waypoint(target: str, place: str) -> str:
    # Edges heading for the same table share their waypoints (they run as one bundle, which
    # keeps a table referenced by hundreds from growing hundreds of waypoints). Postgres names
    # cannot contain NUL, so waypoint names never clash with a table's.
    return f"\x00{target}\x00{place}"


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
            ordered[level] = sorted(ordered[level], key=lambda n, m=members: barycenter(n, m))
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


@dataclass
class _Placed:
    """One group of tables laid out in layers, with its origin at (0, 0)."""

    width: float
    height: float
    layers: list[list[str]]
    routes: dict[tuple[str, str], list[tuple[float, float, float]]]


def _layer_group(
    names: list[str], edges: list[DiagramEdge], boxes: dict[str, Box], layer_gap: float
) -> _Placed:
    """Place one group of linked tables in layers (positions relative to the group)."""
    depth, _ = _depths(names, edges)

    # An edge spanning several layers passes through a waypoint in each layer in between
    # (a "virtual node" that takes a little room), so it never runs behind a box.
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in names:
        layers[depth[name]].append(name)
    pairs: list[tuple[str, str]] = []
    chains: dict[tuple[str, str], list[str]] = {}
    for edge in edges:
        if edge.source == edge.target:
            continue
        levels = range(depth[edge.source] - 1, depth[edge.target], -1)
        chain = [_waypoint(edge.target, f"layer {level}") for level in levels]
        for level, node in zip(levels, chain, strict=True):
            if node not in layers[level]:
                layers[level].append(node)
        route = [edge.source, *chain, edge.target]
        chains[(edge.source, edge.name)] = route
        pairs.extend(pairwise(route))
    layers = _order_layers(layers, pairs)

    def size(name: str) -> tuple[float, float]:
        box = boxes.get(name)
        return (box.width, box.height) if box else (0.0, WAYPOINT_HEIGHT)

    # A layer taller than MAX_COLUMN_HEIGHT wraps into several columns.
    columns: list[list[str]] = []
    column_level: list[int] = []
    for level, layer in enumerate(layers):
        current: list[str] = []
        height = 0.0
        for name in layer:
            needed = size(name)[1] + (BOX_GAP if current else 0)
            if current and height + needed > MAX_COLUMN_HEIGHT:
                columns.append(current)
                column_level.append(level)
                current, height = [], 0.0
                needed = size(name)[1]
            current.append(name)
            height += needed
        if current:
            columns.append(current)
            column_level.append(level)
    column_of = {name: index for index, column in enumerate(columns) for name in column}

    # An edge that skips a column of a wrapped layer gets a waypoint in that column too, at
    # about the height of where it is heading, so it never seems to start at a box it passes.
    waypoints: dict[tuple[str, str], list[str]] = {}
    for key, route in sorted(chains.items()):
        passing: list[str] = []
        for here, there in pairwise(route):
            if here != route[0]:
                passing.append(here)
            for index in range(column_of[here] - 1, column_of[there], -1):
                node = _waypoint(route[-1], f"column {index}")
                if node not in column_of:
                    column = columns[index]
                    target_column = columns[column_of[there]]
                    share = (target_column.index(there) + 0.5) / len(target_column)
                    column.insert(round(share * len(column)), node)
                    column_of[node] = index
                passing.append(node)
        if passing:
            waypoints[key] = passing

    heights = [sum(size(n)[1] for n in names) + BOX_GAP * (len(names) - 1) for names in columns]
    total_height = max(heights, default=0.0)
    passes: dict[str, tuple[float, float, float]] = {}
    x = 0.0
    for index, (names, height) in enumerate(zip(columns, heights, strict=True)):
        if index:
            same_layer = column_level[index] == column_level[index - 1]
            x += BOX_GAP * 2 if same_layer else layer_gap
        width = max(max(size(n)[0] for n in names), WAYPOINT_MIN_WIDTH)
        y = (total_height - height) / 2  # centre shorter columns
        for name in names:
            box = boxes.get(name)
            if box is None:
                passes[name] = (x, x + width, y + WAYPOINT_HEIGHT / 2)
            else:
                box.x, box.y, box.layer = x, y, column_level[index]
            y += size(name)[1] + BOX_GAP
        x += width
    routes = {key: [passes[node] for node in chain] for key, chain in waypoints.items()}
    real_layers = [[n for n in layer if n in boxes] for layer in layers]
    return _Placed(x, total_height, real_layers, routes)


def layout(diagram: Diagram, compact: bool | None = None) -> Layout:
    """Return where each table of the diagram goes, and the way of each long edge.

    Each group of tables joined by foreign keys is laid out in layers; the groups are packed
    in rows (biggest first); tables without foreign keys form a grid underneath.
    """
    if compact is None:
        compact = len(diagram.tables) > COMPACT_ABOVE
    boxes: dict[str, Box] = {}
    for table in sorted(diagram.tables, key=lambda t: t.name):
        width, height, shown = _box_size(table, compact)
        boxes[table.name] = Box(table, width=width, height=height, shown_columns=shown)
    known_edges = sorted(
        (e for e in diagram.edges if e.source in boxes and e.target in boxes),
        key=lambda e: (e.source, e.name, e.target),
    )
    linked = {n for e in known_edges if e.source != e.target for n in (e.source, e.target)}
    groups = _components(sorted(linked), known_edges)
    placed_groups = []
    for group in groups:
        members = set(group)
        inside = [e for e in known_edges if e.source in members and e.target in members]
        layer_gap = COMPACT_LAYER_GAP if compact else LAYER_GAP
        placed_groups.append((group, _layer_group(group, inside, boxes, layer_gap)))

    # Pack the groups in rows about as wide as the diagram is tall (but at least a screen).
    area = sum((g.width + GROUP_GAP) * (g.height + GROUP_ROW_GAP) for _, g in placed_groups)
    row_width = max([GRID_MIN_WIDTH, (area**0.5) * 1.5] + [g.width for _, g in placed_groups])
    routes: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    layers: list[list[str]] = []
    x, y, row_height, widest = MARGIN, MARGIN, 0.0, 0.0
    for group, placed in placed_groups:
        if x > MARGIN and x + placed.width > MARGIN + row_width:
            x, y, row_height = MARGIN, y + row_height + GROUP_ROW_GAP, 0.0
        for name in group:
            boxes[name].x += x
            boxes[name].y += y
        for key, route in placed.routes.items():
            routes[key] = [(left + x, right + x, through + y) for left, right, through in route]
        for level, names in enumerate(placed.layers):
            if level == len(layers):
                layers.append([])
            layers[level].extend(names)
        widest = max(widest, x + placed.width - MARGIN)
        row_height = max(row_height, placed.height)
        x += placed.width + GROUP_GAP
    linked_bottom = y + row_height if placed_groups else MARGIN

    # Tables without foreign keys: a grid under the groups, in name order. The gap leaves room
    # for the loop of a table that references itself.
    unlinked = [name for name in boxes if name not in linked]
    grid_top = linked_bottom + (GROUP_GAP if placed_groups else 0)
    grid_width = 0.0
    bottom = linked_bottom
    if unlinked:
        cell_width = max(boxes[n].width for n in unlinked)
        room = max(widest, GRID_MIN_WIDTH) + GRID_GAP
        per_row = min(len(unlinked), max(1, int(room // (cell_width + GRID_GAP))))
        y = grid_top
        for start in range(0, len(unlinked), per_row):
            row = unlinked[start : start + per_row]
            for offset, name in enumerate(row):
                boxes[name].x, boxes[name].y = MARGIN + offset * (cell_width + GRID_GAP), y
            y += max(boxes[n].height for n in row) + BOX_GAP
        bottom = y - BOX_GAP
        grid_width = per_row * (cell_width + GRID_GAP) - GRID_GAP

    width = MARGIN * 2 + max(widest, grid_width, 0.0) + LOOP_ROOM
    height = bottom + MARGIN
    return Layout(boxes, max(width, 2 * MARGIN), max(height, 2 * MARGIN), compact, layers, routes)


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _curve_left(px: float, py: float, qx: float, qy: float) -> str:
    """Return an S-shaped curve from (px, py) leftwards to (qx, qy), leaving and arriving flat."""
    bend = max(30.0, (px - qx) / 2)
    first, second = f"{_number(px - bend)},{_number(py)}", f"{_number(qx + bend)},{_number(qy)}"
    return f" C{first} {second} {_number(qx)},{_number(qy)}"


def _edge_path(
    edge: DiagramEdge,
    source: Box,
    target: Box,
    compact: bool,
    route: list[tuple[float, float, float]],
) -> str:
    sy = source.row_y(edge.source_columns[0] if edge.source_columns else "", compact)
    ty = target.row_y(edge.target_columns[0] if edge.target_columns else "", compact)
    if source is target:  # a self-reference: a loop on the right side
        right = source.x + source.width
        return (
            f"M{_number(right)},{_number(sy)} C{_number(right + 26)},{_number(sy)} "
            f"{_number(right + 26)},{_number(ty)} {_number(right + 1)},{_number(ty)}"
        )
    if source.x >= target.x + target.width:  # the usual case: the target is to the left
        path = f"M{_number(source.x)},{_number(sy)}"
        x, y = source.x, sy
        for left, right, through in route:  # across each layer in between
            path += _curve_left(x, y, right, through) + f" H{_number(left)}"
            x, y = left, through
        return path + _curve_left(x, y, target.x + target.width + 1, ty)
    if source.x + source.width <= target.x:  # a cycle drawn rightwards
        sx, tx = source.x + source.width, target.x - 1
        bend = max(30.0, (tx - sx) / 2)
        return (
            f"M{_number(sx)},{_number(sy)} C{_number(sx + bend)},{_number(sy)} "
            f"{_number(tx - bend)},{_number(ty)} {_number(tx)},{_number(ty)}"
        )
    # Same column: leave and enter on the right, bulging outwards.
    sx, tx = source.x + source.width, target.x + target.width
    bulge = max(sx, tx) + 36
    return (
        f"M{_number(sx)},{_number(sy)} C{_number(bulge)},{_number(sy)} "
        f"{_number(bulge)},{_number(ty)} {_number(tx + 1)},{_number(ty)}"
    )


def _table_svg(box: Box, compact: bool, focus: bool, href: str | None) -> list[str]:
    table = box.table
    fill = COLOURS["focus"] if focus else COLOURS["header"]
    header_ink = COLOURS["focus_ink"] if focus else COLOURS["header_ink"]
    limit = int((box.width - 2 * PADDING) / CHAR_WIDTH)
    parts = [
        f'<g class="erd-table" transform="translate({_number(box.x)},{_number(box.y)})">',
        f"<title>{clean(table.name)}</title>",
        f'<rect width="{_number(box.width)}" height="{_number(box.height)}" rx="6" '
        f'fill="{COLOURS["box"]}" stroke="{COLOURS["border"]}"/>',
        f'<path d="M0.5,{HEADER_HEIGHT} V6 a5.5,5.5 0 0 1 5.5,-5.5 H{_number(box.width - 6)} '
        f'a5.5,5.5 0 0 1 5.5,5.5 V{HEADER_HEIGHT} Z" fill="{fill}"/>',
        f'<text x="{PADDING}" y="17" font-weight="700" fill="{header_ink}">'
        f"{clean(_shorten(table.name, limit))}</text>",
    ]
    if compact:
        keys = sum(1 for c in table.columns if c.foreign_key)
        summary = f"{len(table.columns)} columns" + (f" · {keys} FK" if keys else "")
        parts.append(
            f'<text x="{PADDING}" y="{HEADER_HEIGHT + 11}" fill="{COLOURS["muted"]}" '
            f'font-size="11">{clean(summary)}</text>'
        )
    else:
        for index, column in enumerate(box.shown_columns):
            y = HEADER_HEIGHT + ROW_HEIGHT * index + 14
            marker = "PK" if column.primary_key else ("FK" if column.foreign_key else "")
            colour = COLOURS["pk"] if column.primary_key else COLOURS["fk"]
            type_room = max(4, min(len(column.type), limit - 4 - min(len(column.name), 12) - 2))
            shown_type = _shorten(column.type, type_room)
            shown_name = _shorten(column.name, limit - 4 - len(shown_type) - 1)
            parts.append(f"<g><title>{clean(column.name)} {clean(column.type)}</title>")
            if marker:
                parts.append(
                    f'<text x="{PADDING}" y="{y}" font-size="10" font-weight="700" '
                    f'fill="{colour}">{marker}</text>'
                )
            parts.append(
                f'<text x="{PADDING + 4 * CHAR_WIDTH:.0f}" y="{y}" fill="{COLOURS["ink"]}">'
                f"{clean(shown_name)}</text>"
            )
            parts.append(
                f'<text x="{_number(box.width - PADDING)}" y="{y}" text-anchor="end" '
                f'fill="{COLOURS["muted"]}">{clean(shown_type)}</text></g>'
            )
        hidden = len(table.columns) - len(box.shown_columns)
        if hidden > 0:
            y = HEADER_HEIGHT + ROW_HEIGHT * len(box.shown_columns) + 14
            parts.append(
                f'<text x="{PADDING + 4 * CHAR_WIDTH:.0f}" y="{y}" fill="{COLOURS["muted"]}">'
                f"… {hidden} more column{'s' if hidden != 1 else ''}</text>"
            )
    parts.append("</g>")
    if href is not None:
        return [f'<a href="{clean(href)}">', *parts, "</a>"]
    return parts


def render_svg(
    diagram: Diagram,
    link: Callable[[str], str] | None = None,
    compact: bool | None = None,
    id_prefix: str = "erd",
) -> str:
    """Return the diagram as a standalone SVG document (also fit to embed in HTML)."""
    placed = layout(diagram, compact)
    marker_id = clean(f"{id_prefix}-arrow")
    if diagram.focus:
        title = f"Tables linked to {diagram.focus} in schema {diagram.schema}"
    else:
        title = f"Tables of schema {diagram.schema}"
    width, height = _number(placed.width), _number(placed.height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="erd" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'font-family="{clean(FONT_FAMILY)}" font-size="{FONT_SIZE}">',
        f"<title>{clean(title)}</title>",
        "<defs>",
        f'<marker id="{marker_id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        f'markerHeight="8" orient="auto-start-reverse">'
        f'<path d="M0,1 L9,5 L0,9 z" fill="{COLOURS["edge"]}"/></marker>',
        "</defs>",
        '<g class="erd-edges" fill="none">',
    ]
    for edge in sorted(diagram.edges, key=lambda e: (e.source, e.name)):
        source, target = placed.boxes.get(edge.source), placed.boxes.get(edge.target)
        if source is None or target is None:
            continue
        route = placed.routes.get((edge.source, edge.name), [])
        path = _edge_path(edge, source, target, placed.compact, route)
        label = (
            f"{edge.name}: {edge.source}({', '.join(edge.source_columns)}) → "
            f"{edge.target}({', '.join(edge.target_columns)})"
        )
        out.append(
            f'<path class="erd-edge" d="{path}" '
            f'stroke="{COLOURS["edge"]}" stroke-width="1.3" marker-end="url(#{marker_id})">'
            f"<title>{clean(label)}</title></path>"
        )
    out.append("</g>")
    out.append('<g class="erd-tables">')
    for name in sorted(placed.boxes):
        href = link(name) if link is not None else None
        out.extend(_table_svg(placed.boxes[name], placed.compact, name == diagram.focus, href))
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
