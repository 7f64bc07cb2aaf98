"""The models' validation rules for row changes: found in SCHEMA_MODELS when there are some."""

from __future__ import annotations

import textwrap

from dashboard.changes.fields import model_errors

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
