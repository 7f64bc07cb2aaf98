"""The fields of a row change: what an empty input means, and the models' validation rules
(found in SCHEMA_MODELS when there are some)."""

from __future__ import annotations

import textwrap

import sqlalchemy as sa
from django.http import QueryDict

from dashboard.changes.fields import form_fields, model_errors, read_form

PLAIN_MODELS = """
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "plain_things"
    id: Mapped[int] = mapped_column(primary_key=True)
"""


def test_a_plain_sqlalchemy_model_has_no_rules_to_check(settings, tmp_path, monkeypatch):
    # Seen by the type checker: any mapped class was taken for a pydantic model, so a
    # SCHEMA_MODELS of plain SQLAlchemy classes failed with AttributeError on every edit.
    (tmp_path / "plain_schema_models.py").write_text(textwrap.dedent(PLAIN_MODELS))
    monkeypatch.syspath_prepend(str(tmp_path))
    settings.SCHEMA_MODELS = "plain_schema_models"
    assert model_errors("plain_things", {"id": "not a number"}) == {}


def test_a_sqlmodel_model_reports_what_it_refuses(settings):
    settings.SCHEMA_MODELS = "core.models"
    errors = model_errors("tasks", {"title": "x" * 1000, "description": "y" * 2000})
    assert "description" in errors


def test_an_empty_required_input_is_null_in_an_added_row_only():
    table = sa.Table(
        "things",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )
    empty = QueryDict("default.id=1&v.name=&v.size=&v.note=")
    added = read_form(form_fields(table, {}, adding=True), empty, original={}, adding=True)
    # Required and left empty: NULL, for the database to take or refuse; a nullable text
    # column left empty (its NULL box unticked) is the empty string.
    assert added.errors == {}
    assert {name: value for name, value in added.values.items() if name != "id"} == {
        "name": None,
        "size": None,
        "note": "",
    }
    shown = {"id": "1", "name": "Ada", "size": "3", "note": None}
    edited = read_form(form_fields(table, shown), empty, original=shown)
    assert edited.values["name"] == ""  # an edit that empties a text column means ''
    assert edited.errors == {"size": "Enter a value."}
