"""Typed filters of a list page, read from query parameters named `f.<op>.<column>`.

    f.eq.user_id=user_42        equality (numbers, text, uuid, booleans, enum/CHECK choices)
    f.gte.created_at=2025-01-01  ranges for numbers, dates, timestamps and times (inclusive;
    f.lte.created_at=2025-01-31  a bare date as the upper end of a timestamp means that whole day)
    f.prefix.title=Buy           text starting with (ILIKE, wildcards escaped)
    f.contains.title=report      text containing (ILIKE, wildcards escaped)
    f.has.tags=urgent            arrays holding an element
    f.null.due_date=null|notnull empty or not

The operation comes first so a column name may contain dots. An unknown column is a 404; a
value that does not fit the column is an error shown next to its field while the other filters
still apply. Masked columns cannot be filtered (equality would reveal the secret).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from django.http import QueryDict
from django.utils.safestring import SafeString
from sqlalchemy import Table
from sqlalchemy.sql.elements import ColumnElement

from dashboard.data.column_input import BadValue, Parsed, parse_value
from dashboard.data.columns import ColumnInfo, column_kind
from dashboard.html_parts import html_format, html_join
from dashboard.params import has_nul
from dashboard.schema.reflection import column_named

PREFIX = "f."
OP_LABELS = {
    "eq": "is",
    "gte": "from",
    "lte": "to",
    "prefix": "starts with",
    "contains": "contains",
    "has": "has element",
    "null": "empty",
}
NULL_CHOICES = (("null", "is empty"), ("notnull", "is not empty"))  # values of f.null.*
TEXT_MODES = ("eq", "prefix", "contains")
INPUTS = (  # (operation, placeholder, label) of the plain inputs, in the form's order
    ("eq", "=", "equals"),
    ("gte", "from", "from"),
    ("lte", "to", "to"),
    ("has", "has element", "has element"),
)
ARRAY_ELEMENT_KINDS = {"text", "integer", "uuid", "enum"}


def ops_for(info: ColumnInfo, table: Table | None = None) -> tuple[str, ...]:
    """Return the filter operations a column allows, in the order the form shows them."""
    if info.masked:
        return ()
    kind = info.kind
    ops: tuple[str, ...]
    if kind in ("integer", "number"):
        ops = ("eq", "gte", "lte")
    elif kind in ("timestamp", "time"):
        ops = ("gte", "lte")
    elif kind == "date":
        ops = ("eq", "gte", "lte")
    elif kind == "text" and not info.choices:
        ops = TEXT_MODES
    elif kind in ("text", "enum", "boolean", "uuid"):
        ops = ("eq",)
    elif kind == "array" and table is not None and _element_kind(table, info) is not None:
        ops = ("has",)
    else:
        ops = ()
    return (*ops, "null") if info.nullable else ops


def _element_kind(table: Table, info: ColumnInfo) -> str | None:
    item_type = getattr(table.c[info.name].type, "item_type", None)
    if item_type is None:
        return None
    kind = column_kind(sa.Column("item", item_type))
    return kind if kind in ARRAY_ELEMENT_KINDS else None


@dataclass
class ActiveFilter:
    """A filter that applies: its parameter, column, operation and parsed value."""

    param: str
    column: str
    op: str
    raw: str
    parsed: Parsed

    @property
    def label(self) -> str:
        if self.op == "null":
            return f"{self.column} {'is empty' if self.raw == 'null' else 'is not empty'}"
        return f"{self.column} {OP_LABELS[self.op]} “{self.raw}”"

    def clause(self, table: Table) -> ColumnElement[bool]:
        """Return the WHERE clause of this filter (values bound, never inlined)."""
        column = table.c[self.column]
        value = self.parsed.value
        if self.op == "null":
            return column.is_(None) if self.raw == "null" else column.is_not(None)
        if self.op == "eq":
            return column == value
        if self.op == "gte":
            return column >= value
        if self.op == "lte":
            if self.parsed.whole_day:  # "to 2025-01-31" includes that day
                return column < value + timedelta(days=1)
            return column <= value
        if self.op == "prefix":
            return column.istartswith(value, autoescape=True)
        if self.op == "contains":
            return column.icontains(value, autoescape=True)
        if self.op == "has":
            return column.contains([value])
        raise AssertionError(f"unknown filter operation {self.op}")


@dataclass
class FilterField:
    """One input of the filter form."""

    param: str
    op: str
    value: str = ""
    error: str = ""


@dataclass
class ColumnFilters:
    """The filter inputs of one column, for the form."""

    info: ColumnInfo
    ops: tuple[str, ...]
    fields: dict[str, FilterField] = field(default_factory=dict)
    text_mode: str = "contains"  # which text operation the single text input uses

    @property
    def active(self) -> bool:
        return any(f.value for f in self.fields.values())

    @property
    def errors(self) -> list[str]:
        return [f.error for f in self.fields.values() if f.error]

    @property
    def text_field(self) -> FilterField:
        return self.fields[self.text_mode]

    @property
    def text_modes(self) -> list[tuple[str, str]]:
        return [(op, OP_LABELS[op]) for op in TEXT_MODES if op in self.ops]

    @property
    def other_text_fields(self) -> list[FilterField]:
        """Return text filters given in the URL besides the one the form's input shows."""
        return [
            f
            for op, f in self.fields.items()
            if op in TEXT_MODES and op != self.text_mode and f.value
        ]

    @property
    def widget(self) -> str:
        """Return how the form shows this column: "text", "choice" or "inputs"."""
        if "prefix" in self.ops:
            return "text"
        if "eq" in self.ops and (self.info.kind == "boolean" or self.info.choices):
            return "choice"
        return "inputs"

    @property
    def choices(self) -> list[str]:
        return ["true", "false"] if self.info.kind == "boolean" else list(self.info.choices)

    @property
    def input_type(self) -> str:
        return "date" if self.info.kind == "date" else "text"

    @property
    def hint(self) -> str:
        """Return the input format, shown as a tooltip."""
        return {
            "timestamp": "YYYY-MM-DD or YYYY-MM-DD HH:MM",
            "date": "YYYY-MM-DD",
            "time": "HH:MM",
            "uuid": "a UUID",
            "integer": "a whole number",
            "number": "a number",
        }.get(self.info.kind, "")

    @property
    def controls_html(self) -> SafeString:
        """Return the HTML of this column's inputs (see `_input`: built here, not in the
        template, because a page shows dozens and the template engine took ~4 ms for them)."""
        name = self.info.name
        parts: list[SafeString] = []
        if self.widget == "text":
            modes = [_option(op, label, op == self.text_mode) for op, label in self.text_modes]
            parts.append(
                html_format(
                    '<select class="text-mode" data-column="{}" aria-label="How {} matches">'
                    "{}</select>",
                    name,
                    name,
                    html_join(modes),
                )
            )
            field_ = self.text_field
            parts.append(_input(field_, f"{name} value", css="text-value"))
            parts += [
                html_format('<input type="hidden" name="{}" value="{}">', f.param, f.value)
                for f in self.other_text_fields
            ]
        elif self.widget == "choice":
            field_ = self.fields["eq"]
            options = [_option("", "any", False)]
            options += [_option(c, c, c == field_.value) for c in self.choices]
            if field_.error:  # keep the rejected value visible next to its error
                options.append(_option(field_.value, field_.value, True))
            parts.append(_select(field_, f"{name} is", options))
        else:
            for op, placeholder, label in INPUTS:
                if op in self.fields:
                    parts.append(
                        _input(
                            self.fields[op],
                            f"{name} {label}",
                            css="short" if op != "has" else "",
                            kind=self.input_type if op != "has" else "text",
                            placeholder=placeholder,
                            hint=self.hint,
                        )
                    )
        if "null" in self.fields:
            field_ = self.fields["null"]
            options = [_option("", "empty or not", False)]
            options += [_option(v, label, v == field_.value) for v, label in NULL_CHOICES]
            parts.append(_select(field_, f"{name} empty or not", options))
        return html_join(parts)


SELECTED = {True: SafeString(" selected"), False: SafeString("")}
INVALID = {True: SafeString(' aria-invalid="true"'), False: SafeString("")}


def _option(value: str, label: str, selected: bool) -> SafeString:
    return html_format('<option value="{}"{}>{}</option>', value, SELECTED[selected], label)


def _select(field_: FilterField, label: str, options: list[SafeString]) -> SafeString:
    return html_format(
        '<select name="{}" aria-label="{}"{}>{}</select>',
        field_.param,
        label,
        INVALID[bool(field_.error)],
        html_join(options),
    )


def _input(
    field_: FilterField,
    label: str,
    css: str = "",
    kind: str = "text",
    placeholder: str = "",
    hint: str = "",
) -> SafeString:
    attributes = [
        html_format(
            'type="{}" name="{}" value="{}" aria-label="{}"',
            kind,
            field_.param,
            field_.value,
            label,
        )
    ]
    if css:
        attributes.insert(0, html_format('class="{}"', css))
    if placeholder:
        attributes.append(html_format('placeholder="{}"', placeholder))
    if hint:
        attributes.append(html_format('title="{}"', hint))
    if field_.error:
        attributes.append(SafeString('aria-invalid="true"'))
    return html_format("<input {}>", html_join(attributes, " "))


@dataclass
class FilterSet:
    """The parsed filters of a request: what applies, and the form with its errors."""

    columns: list[ColumnFilters]
    active: list[ActiveFilter]
    general_errors: list[str]

    @property
    def errors(self) -> dict[str, str]:
        return {f.param: f.error for c in self.columns for f in c.fields.values() if f.error}

    def clauses(self, table: Table) -> list[ColumnElement[bool]]:
        return [item.clause(table) for item in self.active]

    @property
    def grid_html(self) -> SafeString:
        """Return the filter form's column blocks (built here, like their controls).

        A form with nothing typed in is the same for every view of a table: built once per
        set of columns (their descriptions and filters, which change with the schema)."""
        if any(f.value or f.error for c in self.columns for f in c.fields.values()):
            return self._grid_html()
        shape = tuple((block.info, block.ops, block.text_mode) for block in self.columns)
        made = _EMPTY_GRIDS.get(shape)
        if made is None:
            if len(_EMPTY_GRIDS) >= EMPTY_GRIDS_KEPT:
                _EMPTY_GRIDS.clear()
            made = _EMPTY_GRIDS[shape] = self._grid_html()
        return made

    def _grid_html(self) -> SafeString:
        blocks = []
        for block in self.columns:
            errors = block.errors
            classes = "fcol" + (" active" if block.active else "") + (" invalid" if errors else "")
            blocks.append(
                html_format(
                    '<div class="{}" data-column="{}"><div class="fname"><span class="mono">{}'
                    '</span> <span class="type">{}</span></div><div class="finputs">{}</div>{}'
                    "</div>",
                    classes,
                    block.info.name,
                    block.info.name,
                    block.info.type_label,
                    block.controls_html,
                    html_join(
                        html_format('<p class="field-error" role="alert">{}</p>', message)
                        for message in errors
                    ),
                )
            )
        return html_join(blocks, "\n")

    def params(self) -> list[tuple[str, str]]:
        """Return the (name, value) pairs of the filters that apply, for links."""
        return [(item.param, item.raw) for item in self.active]


EMPTY_GRIDS_KEPT = 256
_EMPTY_GRIDS: dict[tuple[object, ...], SafeString] = {}  # see FilterSet.grid_html


def filter_param(op: str, column: str) -> str:
    return f"{PREFIX}{op}.{column}"


def parse_filters(params: QueryDict, infos: dict[str, ColumnInfo], table: Table) -> FilterSet:
    """Return the filters in `params`; raise UnknownColumn (404) for a column that is not there."""
    given: dict[tuple[str, str], str] = {}
    general: list[str] = []
    for key in params:
        if not key.startswith(PREFIX):
            continue
        op, _, name = key[len(PREFIX) :].partition(".")
        values = [v for v in params.getlist(key) if v.strip()]
        if not values:
            continue
        column_named(table, name)  # 404 with a sentence when the column does not exist
        info = infos.get(name)
        if info is None:  # hidden by the display settings
            general.append(f"The column “{name}” is hidden, so it cannot be filtered.")
            continue
        if op not in OP_LABELS:
            general.append(f"“{op}” is not a filter; use one of {', '.join(OP_LABELS)}.")
            continue
        if op not in ops_for(info, table):
            reason = "is masked" if info.masked else f"is {info.type_label}"
            general.append(f"The column “{name}” {reason}, so it cannot be filtered by “{op}”.")
            continue
        given[(name, op)] = values[-1]

    columns: list[ColumnFilters] = []
    active: list[ActiveFilter] = []
    for name, info in infos.items():
        ops = ops_for(info, table)
        if not ops:
            continue
        block = ColumnFilters(info=info, ops=ops)
        if info.kind == "text" and not info.choices:
            given_modes = [op for op in TEXT_MODES if (name, op) in given]
            default = "eq" if info.primary_key or info.foreign_table else "contains"
            block.text_mode = given_modes[0] if given_modes else default
        for op in ops:
            raw = given.get((name, op), "")
            item = FilterField(param=filter_param(op, name), op=op, value=raw)
            block.fields[op] = item
            if not raw:
                continue
            try:
                parsed = _parse(info, op, raw, table)
            except BadValue as exc:
                item.error = str(exc)
                continue
            active.append(ActiveFilter(item.param, name, op, raw, parsed))
        columns.append(block)
    return FilterSet(columns=columns, active=active, general_errors=general)


def _parse(info: ColumnInfo, op: str, raw: str, table: Table) -> Parsed:
    if op == "null":
        if raw not in ("null", "notnull"):
            raise BadValue("Choose “is empty” or “is not empty”.")
        return Parsed(raw)
    if op == "has":
        kind = _element_kind(table, info) or "text"
        item = ColumnInfo(
            name=info.name, kind=kind, type_label=info.type_label, nullable=False, primary_key=False
        )
        return parse_value(item, raw)
    if op in ("prefix", "contains"):
        if len(raw) > 200:
            raise BadValue("Enter at most 200 characters.")
        if has_nul(raw):
            raise BadValue("The value may not contain NUL characters.")
        return Parsed(raw)
    return parse_value(info, raw)


def invalid_filters(filters: FilterSet) -> list[str]:
    """Return a sentence per filter of the request that could not be applied."""
    problems = list(filters.general_errors)
    for column in filters.columns:
        for item in column.fields.values():
            if item.error:
                label = f"{column.info.name} {OP_LABELS[item.op]} “{item.value}”"
                problems.append(f"{label}: {item.error}")
    return problems


def describe(active: list[ActiveFilter]) -> list[dict[str, Any]]:
    """Return the filters as plain dicts (for the audit log of an export)."""
    return [{"column": a.column, "op": a.op, "value": a.raw} for a in active]
