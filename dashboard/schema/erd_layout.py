"""Where each box and edge of an ER diagram goes: a deterministic, layered layout.

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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from dashboard.schema.erd_graph import _components, _depths, _order_layers
from dashboard.schema.erd_model import Diagram, DiagramColumn, DiagramEdge, DiagramTable

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


def _waypoint(target: str, place: str) -> str:
    # Edges heading for the same table share their waypoints (they run as one bundle, which
    # keeps a table referenced by hundreds from growing hundreds of waypoints). Postgres names
    # cannot contain NUL, so waypoint names never clash with a table's.
    return f"\x00{target}\x00{place}"


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
    x: float = MARGIN
    y: float = MARGIN
    row_height, widest = 0.0, 0.0
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
