"""Lay out the revision graph for a server-rendered SVG (no JavaScript).

Revisions come newest first; each gets a row and a lane (column), like `git log --graph`:
a revision takes the lane that was waiting for it, its first parent continues in the same lane,
other parents (a merge) open or join another lane, and several lanes waiting for the same
revision converge on it (a branch point).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.history.revisions import Revision

ROW_HEIGHT = 28
LANE_WIDTH = 18
PAD = 14
RADIUS = 5
MESSAGE_CHARS = 70


@dataclass(frozen=True)
class GraphNode:
    revision: Revision
    row: int
    lane: int
    x: float
    y: float
    classes: str
    markers: tuple[str, ...]

    @property
    def label_y(self) -> float:
        return self.y + 4

    @property
    def short_message(self) -> str:
        message = self.revision.message
        return message if len(message) <= MESSAGE_CHARS else message[: MESSAGE_CHARS - 1] + "…"


@dataclass(frozen=True)
class GraphEdge:
    path: str
    classes: str = "edge"
    top_row: int = 0  # the child's row
    bottom_row: int = 0  # the parent's row


@dataclass
class GraphLayout:
    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[GraphEdge] = field(default_factory=list)
    lanes: int = 0
    width: int = 0
    height: int = 0
    top: int = 0  # the y the drawing starts at (a window of a longer history starts lower)

    @property
    def label_x(self) -> int:
        return PAD + self.lanes * LANE_WIDTH + 6

    def window(self, first_row: int, rows: int) -> GraphLayout:
        """Return the part of the graph showing rows first_row .. first_row + rows - 1: their
        nodes and the edges that cross them (drawn cut at the window's edges)."""
        last_row = first_row + rows - 1
        nodes = [node for node in self.nodes if first_row <= node.row <= last_row]
        if not nodes:
            return GraphLayout(lanes=self.lanes, width=self.width)
        edges = [
            edge for edge in self.edges if edge.top_row <= last_row and edge.bottom_row >= first_row
        ]
        top = int(_y(first_row) - PAD)
        height = int(_y(nodes[-1].row) + PAD - top)
        return GraphLayout(nodes, edges, self.lanes, self.width, height, top)


def _x(lane: int) -> float:
    return PAD + lane * LANE_WIDTH


def _y(row: int) -> float:
    return PAD + row * ROW_HEIGHT


def _edge_path(
    child_row: int, child_lane: int, lane: int, parent_row: int, parent_lane: int
) -> str:
    """Return an SVG path from a child node down its lane to the parent node."""
    points = [(_x(child_lane), _y(child_row))]
    if parent_row - child_row > 1:
        points.append((_x(lane), _y(child_row + 1)))
        points.append((_x(lane), _y(parent_row - 1)))
    points.append((_x(parent_lane), _y(parent_row)))
    deduplicated = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    head, *rest = deduplicated
    return f"M{head[0]:g} {head[1]:g}" + "".join(f" L{x:g} {y:g}" for x, y in rest)


def _free_lane(lanes: list[str | None]) -> int:
    for index, waiting_for in enumerate(lanes):
        if waiting_for is None:
            return index
    lanes.append(None)
    return len(lanes) - 1


def revision_graph(
    revisions: list[Revision],
    current: tuple[str, ...] = (),
    pending: tuple[str, ...] = (),
) -> GraphLayout:
    """Return the layout of `revisions` (newest first) with database heads and pending marked."""
    layout = GraphLayout()
    lanes: list[str | None] = []
    open_edges: dict[str, list[tuple[int, int, int]]] = {}
    known = {revision.id for revision in revisions}
    for row, revision in enumerate(revisions):
        waiting = [i for i, awaited in enumerate(lanes) if awaited == revision.id]
        lane = waiting[0] if waiting else _free_lane(lanes)
        for index in waiting:
            lanes[index] = None
        for child_row, child_lane, edge_lane in open_edges.pop(revision.id, []):
            path = _edge_path(child_row, child_lane, edge_lane, row, lane)
            layout.edges.append(GraphEdge(path, top_row=child_row, bottom_row=row))
        for number, parent in enumerate(p for p in revision.down_revisions if p in known):
            joined = [i for i, awaited in enumerate(lanes) if awaited == parent]
            if joined:
                edge_lane = joined[0]
            elif number == 0 and lanes[lane] is None:
                edge_lane = lane
            else:
                edge_lane = _free_lane(lanes)
            lanes[edge_lane] = parent
            open_edges.setdefault(parent, []).append((row, lane, edge_lane))
        while lanes and lanes[-1] is None:
            lanes.pop()
        layout.lanes = max(layout.lanes, len(lanes), lane + 1)
        markers = []
        classes = ["node"]
        if revision.id in current:
            markers.append("database")
            classes.append("current")
        if revision.id in pending:
            classes.append("pending")
        if revision.is_head:
            markers.append("head")
            classes.append("head")
        if revision.is_merge:
            markers.append("merge")
            classes.append("merge")
        if revision.is_branch_point:
            markers.append("branch point")
            classes.append("branchpoint")
        if revision.is_base:
            classes.append("base")
        layout.nodes.append(
            GraphNode(
                revision=revision,
                row=row,
                lane=lane,
                x=_x(lane),
                y=_y(row),
                classes=" ".join(classes),
                markers=tuple(markers),
            )
        )
    layout.height = int(PAD * 2 + max(len(revisions) - 1, 0) * ROW_HEIGHT)
    layout.width = int(layout.label_x + 560)
    return layout
