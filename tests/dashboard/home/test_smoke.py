import pytest


@pytest.mark.django_db
def test_overview_renders_for_viewer(viewer_client):
    response = viewer_client.get("/")
    assert response.status_code == 200
    assert b"PostgreSQL" in response.content
