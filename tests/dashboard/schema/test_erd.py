"""ER diagrams: layout rules, escaping, compact rendering, and the diagrams of real schemas."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

from dashboard.schema import erd, services
from dashboard.schema.erd import Diagram, DiagramColumn, DiagramEdge, DiagramTable
from tests.dashboard.schema.builders import MANY_TABLES, SCRIPT_COLUMN, SCRIPT_TABLE

SVG = "{http://www.w3.org/2000/svg}"


def table(name: str, *columns: str, pk: tuple[str, ...] = ("id",), fk: tuple[str, ...] = ()):
    cols = tuple(
        DiagramColumn(c, "integer", primary_key=c in pk, foreign_key=c in fk)
        for c in ("id", *columns)
    )
    return DiagramTable(name, cols)


def edge(source: str, target: str, column: str = "parent_id") -> DiagramEdge:
    return DiagramEdge(f"{source}_{target}_fk", source, (column,), target, ("id",))


def shop() -> Diagram:
    return Diagram(
        schema="shop",
        tables=(
            table("users", "email"),
            table("orders", "user_id", fk=("user_id",)),
            table("lines", "order_id", fk=("order_id",)),
            table("settings", "value"),
            table("notes", "body"),
        ),
        edges=(edge("orders", "users", "user_id"), edge("lines", "orders", "order_id")),
    )


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is well-formed


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_referenced_tables_sit_left_of_the_tables_that_reference_them():
    placed = erd.layout(shop())
    boxes = placed.boxes
    assert boxes["users"].x < boxes["orders"].x < boxes["lines"].x
    assert [layer for layer in placed.layers] == [["users"], ["orders"], ["lines"]]
    # Tables without foreign keys go in the grid underneath.
    lowest_linked = max(boxes[n].y + boxes[n].height for n in ("users", "orders", "lines"))
    assert boxes["notes"].y > lowest_linked and boxes["settings"].y > lowest_linked
    assert boxes["notes"].layer == boxes["settings"].layer == -1
    # Nothing overlaps.
    for a in boxes.values():
        for b in boxes.values():
            if a is not b:
                apart = (
                    a.x + a.width <= b.x
                    or b.x + b.width <= a.x
                    or a.y + a.height <= b.y
                    or b.y + b.height <= a.y
                )
                assert apart, (a.table.name, b.table.name)


def test_long_edges_pass_between_boxes_through_waypoints():
    diagram = Diagram(
        "chain",
        tables=(
            table("a"),
            table("b", "a_id", fk=("a_id",)),
            table("c", "b_id", "a_id", fk=("b_id", "a_id")),
            table("b2", "a_id", fk=("a_id",)),
        ),
        edges=(
            edge("b", "a", "a_id"),
            edge("b2", "a", "a_id"),
            edge("c", "b", "b_id"),
            DiagramEdge("c_a_fk", "c", ("a_id",), "a", ("id",)),
        ),
    )
    placed = erd.layout(diagram)
    assert placed.layers == [["a"], ["b", "b2"], ["c"]]
    [(left, right, y)] = placed.routes[("c", "c_a_fk")]  # crosses layer 1 once
    for name in ("b", "b2"):
        box = placed.boxes[name]
        assert left <= box.x and box.x + box.width <= right  # in layer 1's column...
        assert (
            not box.y - erd.BOX_GAP / 2 < y < box.y + box.height + erd.BOX_GAP / 2
        )  # ...not on a box
    path = next(
        p
        for p in parse(erd.render_svg(diagram)).iter(f"{SVG}path")
        if "c_a_fk" in "".join(p.itertext())
    )
    assert f"H{erd._number(left)}" in path.get("d")
    assert ("c", "c_b_fk") not in placed.routes  # adjacent layers need no waypoint


def test_a_lookup_table_sits_next_to_its_only_referrer():
    diagram = Diagram(
        "shop",
        tables=(*shop().tables, table("countries"), table("addresses", "country_id", "line_id")),
        edges=(
            *shop().edges,
            edge("addresses", "lines", "line_id"),
            edge("addresses", "countries", "country_id"),
        ),
    )
    placed = erd.layout(diagram)
    assert placed.boxes["addresses"].layer == 3
    assert placed.boxes["countries"].layer == 2  # not 0: its one edge stays short
    assert placed.routes == {}


def test_layout_and_svg_do_not_depend_on_input_order():
    diagram = shop()
    shuffled_tables = list(diagram.tables)
    shuffled_edges = list(diagram.edges)
    random.Random(7).shuffle(shuffled_tables)
    shuffled_edges.reverse()
    other = Diagram("shop", tuple(shuffled_tables), tuple(shuffled_edges))
    assert erd.render_svg(diagram) == erd.render_svg(other)


def test_cycles_and_self_references_are_drawn():
    diagram = Diagram(
        "loop",
        tables=(
            table("a", "b_id", fk=("b_id",)),
            table("b", "a_id", fk=("a_id",)),
            table("tree", "parent_id"),
        ),
        edges=(edge("a", "b", "b_id"), edge("b", "a", "a_id"), edge("tree", "tree")),
    )
    placed = erd.layout(diagram)
    assert placed.boxes["a"].layer == placed.boxes["b"].layer  # one strongly connected component
    assert placed.boxes["tree"].layer == -1  # a self-reference alone links to nothing else
    root = parse(erd.render_svg(diagram))
    assert len(list(root.iter(f"{SVG}path"))) >= 3 + 1  # three edges (and the arrow head)


def test_every_name_is_escaped_and_the_svg_stays_well_formed():
    nasty = Diagram(
        "s<&>",
        tables=(
            DiagramTable(SCRIPT_TABLE, (DiagramColumn(SCRIPT_COLUMN, 'text"&', primary_key=True),)),
            DiagramTable("bell\x07table", (DiagramColumn("a]]>b", "int"),)),
        ),
        edges=(
            DiagramEdge(
                "x</title><script>", "bell\x07table", ("a]]>b",), SCRIPT_TABLE, (SCRIPT_COLUMN,)
            ),
        ),
    )
    svg = erd.render_svg(nasty, link=lambda name: f"/schema/{name}/")
    assert "<script" not in svg and "<img" not in svg
    root = parse(svg)
    shown = texts(root)
    assert SCRIPT_TABLE in shown
    assert "bell\ufffdtable" in shown  # a character XML forbids is replaced, not emitted
    links = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert f"/schema/{SCRIPT_TABLE}/" in links  # attribute escaped, value intact


def test_wide_tables_show_sixteen_columns_and_say_how_many_more():
    wide = DiagramTable("wide", tuple(DiagramColumn(f"c{i}", "text") for i in range(40)))
    root = parse(erd.render_svg(Diagram("s", (wide,), ())))
    shown = texts(root)
    assert "c15" in shown and "c16" not in shown
    assert "… 24 more columns" in shown


def test_many_tables_are_drawn_compactly_and_tall_layers_wrap():
    names = [f"t{i:03d}" for i in range(120)]
    tables = (*(table(n, "root_id", fk=("root_id",)) for n in names), table("root"))
    edges = tuple(edge(n, "root", "root_id") for n in names)
    placed = erd.layout(Diagram("s", tables, edges))
    assert placed.compact
    assert all(box.height == erd.COMPACT_HEIGHT for box in placed.boxes.values())
    layer_one_columns = sorted({box.x for name, box in placed.boxes.items() if name != "root"})
    assert len(layer_one_columns) > 1  # 120 boxes do not fit in one column
    # Edges from the outer columns pass through a shared waypoint in each column they cross
    # (they never seem to start at a box they run behind), so columns grow only a little.
    for name in names:
        crossed = layer_one_columns.index(placed.boxes[name].x)
        assert len(placed.routes.get((name, f"{name}_root_fk"), [])) == crossed
    waypoint_room = len(layer_one_columns) * (erd.WAYPOINT_HEIGHT + erd.BOX_GAP)
    tallest = max(box.y + box.height for box in placed.boxes.values())
    assert tallest <= erd.MAX_COLUMN_HEIGHT + 2 * erd.MARGIN + waypoint_room
    root = parse(erd.render_svg(Diagram("s", tables, edges)))
    assert "1 FK" in " ".join(texts(root))


def test_focus_table_is_highlighted():
    svg = erd.render_svg(Diagram("shop", shop().tables, shop().edges, focus="orders"))
    root = parse(svg)
    highlighted = [
        g
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "erd-table"
        and any(p.get("fill") == erd.COLOURS["focus"] for p in g.iter(f"{SVG}path"))
    ]
    assert [g.find(f"{SVG}title").text for g in highlighted] == ["orders"]


def test_diagram_of_the_real_variety_schema(in_variety):
    diagram = services.schema_diagram()
    assert {t.name for t in diagram.tables} >= {"user", "order", "order_line", SCRIPT_TABLE}
    assert len(diagram.edges) == 5
    root = parse(erd.render_svg(diagram))
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "erd-edge"]) == 5
    order_line = next(t for t in diagram.tables if t.name == "order_line")
    assert [(c.name, c.primary_key, c.foreign_key) for c in order_line.columns] == [
        ("order_id", True, True),
        ("line_no", True, False),
        ("country_code", False, True),
    ]


def test_neighbourhood_holds_the_table_its_references_and_its_referrers(in_variety):
    diagram = services.neighbourhood_diagram("order")
    assert diagram.focus == "order"
    assert {t.name for t in diagram.tables} == {"order", "user", "order_line"}
    placed = erd.layout(diagram)
    assert placed.boxes["user"].x < placed.boxes["order"].x < placed.boxes["order_line"].x


def test_hundreds_of_real_tables_make_a_compact_readable_diagram(use_schema, many_schema):
    use_schema(many_schema)
    diagram = services.schema_diagram()
    assert len(diagram.tables) == MANY_TABLES
    placed = erd.layout(diagram)
    assert placed.compact
    assert len(placed.layers) == 5  # chains of five tables
    root = parse(erd.render_svg(diagram))
    assert len(root.findall(f"{SVG}g/{SVG}g[@class='erd-table']")) == MANY_TABLES
    assert placed.width < 20_000 and placed.height < 5_000
