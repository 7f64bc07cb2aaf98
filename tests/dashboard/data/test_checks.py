"""The start-up check of the display settings: errors, warnings, and a target that is down."""

from __future__ import annotations

import pytest
from django.core.checks import Error, Warning, run_checks

from dashboard import target
from dashboard.data.checks import CHECK_TAG, check_display_settings
from dashboard.schema import reflection as refl

pytestmark = pytest.mark.django_db


def test_no_file_means_nothing_to_check(settings):
    settings.DATA_DISPLAY_FILE = ""
    assert check_display_settings() == []


def test_registered_with_django_checks(tables, settings, tmp_path):
    path = tmp_path / "display.toml"
    path.write_text("[tables.datab_items]\nlist_columns = ['id', 'colour']\n")
    settings.DATA_DISPLAY_FILE = str(path)
    messages = run_checks(tags=[CHECK_TAG])
    assert [m.id for m in messages] == ["data.W002"]
    assert "datab_items" in messages[0].msg and "colour" in messages[0].msg


def test_a_broken_file_is_an_error(settings, tmp_path):
    path = tmp_path / "display.json"
    path.write_text("{not json")
    settings.DATA_DISPLAY_FILE = str(path)
    (message,) = check_display_settings()
    assert isinstance(message, Error) and message.id == "data.E001"
    assert "not valid JSON" in message.msg


def test_a_target_that_is_down_gives_a_warning(tables, settings, tmp_path, monkeypatch):
    from core.netports import free_port

    path = tmp_path / "display.toml"
    path.write_text("[tables.datab_items]\nlist_columns = ['id']\n")
    settings.DATA_DISPLAY_FILE = str(path)
    monkeypatch.setenv("DATAB_DOWN_URL", f"postgresql://x:y@127.0.0.1:{free_port()}/nowhere")
    settings.TARGET = {**settings.TARGET, "URL_VAR": "DATAB_DOWN_URL", "CONNECT_TIMEOUT_S": 1}
    target.reset_engine()
    refl.invalidate()
    try:
        (message,) = check_display_settings()
    finally:
        target.reset_engine()
    assert isinstance(message, Warning) and message.id == "data.W001"
    assert "not checked against the schema" in message.msg and "not reachable" in message.msg
