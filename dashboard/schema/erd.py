"""Entity-relationship diagrams drawn as SVG on the server: the model, the layout and the SVG.

The diagram model lives in `erd_model`, the layered layout in `erd_layout` (graph steps in
`erd_graph`) and the SVG drawing in `erd_svg`; their names are re-exported here.
"""

from __future__ import annotations

from dashboard.schema.erd_layout import (  # re-exported
    BOX_GAP,
    BOX_MAX_WIDTH,
    BOX_MIN_WIDTH,
    CHAR_WIDTH,
    COMPACT_ABOVE,
    COMPACT_HEIGHT,
    COMPACT_LAYER_GAP,
    COMPACT_MAX_WIDTH,
    FONT_SIZE,
    GRID_GAP,
    GRID_MIN_WIDTH,
    GROUP_GAP,
    GROUP_ROW_GAP,
    HEADER_HEIGHT,
    LAYER_GAP,
    LOOP_ROOM,
    MARGIN,
    MAX_COLUMN_HEIGHT,
    MAX_ROWS,
    PADDING,
    ROW_HEIGHT,
    WAYPOINT_HEIGHT,
    WAYPOINT_MIN_WIDTH,
    Box,
    Layout,
    layout,
)
from dashboard.schema.erd_model import (  # re-exported
    Diagram,
    DiagramColumn,
    DiagramEdge,
    DiagramTable,
)
from dashboard.schema.erd_svg import (  # re-exported
    COLOURS,
    FONT_FAMILY,
    _number,
    clean,
    render_svg,
)

__all__ = [
    "BOX_GAP",
    "BOX_MAX_WIDTH",
    "BOX_MIN_WIDTH",
    "CHAR_WIDTH",
    "COLOURS",
    "COMPACT_ABOVE",
    "COMPACT_HEIGHT",
    "COMPACT_LAYER_GAP",
    "COMPACT_MAX_WIDTH",
    "FONT_FAMILY",
    "FONT_SIZE",
    "GRID_GAP",
    "GRID_MIN_WIDTH",
    "GROUP_GAP",
    "GROUP_ROW_GAP",
    "HEADER_HEIGHT",
    "LAYER_GAP",
    "LOOP_ROOM",
    "MARGIN",
    "MAX_COLUMN_HEIGHT",
    "MAX_ROWS",
    "PADDING",
    "ROW_HEIGHT",
    "WAYPOINT_HEIGHT",
    "WAYPOINT_MIN_WIDTH",
    "Box",
    "Diagram",
    "DiagramColumn",
    "DiagramEdge",
    "DiagramTable",
    "Layout",
    "_number",
    "clean",
    "layout",
    "render_svg",
]
