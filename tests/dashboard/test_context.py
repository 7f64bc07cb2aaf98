"""The navigation: only sections that exist and the role allows; one current section."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _nav(client, path):
    return client.get(path).context["nav"]


def test_viewer_does_not_see_support_sections(viewer_client):
    labels = [item["label"] for item in _nav(viewer_client, "/")]
    assert "Schema" in labels and "Overview" in labels
    assert "Users" not in labels and "Audit" not in labels


def test_support_sees_users_and_audit(support_client):
    labels = [item["label"] for item in _nav(support_client, "/")]
    assert "Users" in labels and "Audit" in labels


def test_exactly_one_section_is_current_on_a_nested_path(viewer_client):
    active = [item["label"] for item in _nav(viewer_client, "/queries/activity/") if item["active"]]
    assert active == ["Activity"]
    active = [item["label"] for item in _nav(viewer_client, "/") if item["active"]]
    assert active == ["Overview"]


def test_the_overviews_own_pages_are_in_the_overview_section(viewer_client, admin_client):
    for client, path in (
        (viewer_client, "/overview/connections/"),
        (admin_client, "/setup-checks/"),
    ):
        active = [item["label"] for item in _nav(client, path) if item["active"]]
        assert active == ["Overview"], path
