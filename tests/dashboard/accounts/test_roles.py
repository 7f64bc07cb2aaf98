"""Roles are ordered: viewer < support < engineer < admin; superusers count as admins."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from dashboard.accounts.roles import has_role, operator_role, role_required

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("held", "needed", "allowed"),
    [
        ("viewer", "viewer", True),
        ("viewer", "support", False),
        ("support", "viewer", True),
        ("support", "engineer", False),
        ("engineer", "support", True),
        ("engineer", "admin", False),
        ("admin", "engineer", True),
    ],
)
def test_role_order(operator_factory, held, needed, allowed):
    user = operator_factory(f"u-{held}-{needed}", held)
    assert has_role(user, needed) is allowed


def test_no_role_means_no_access(operator_factory):
    user = operator_factory("nobody", None)
    assert operator_role(user) is None
    assert not has_role(user, "viewer")


def test_superuser_is_admin(django_user_model):
    user = django_user_model.objects.create_superuser("root-op", password="x" * 12)
    assert operator_role(user) == "admin"


def test_role_required_renders_a_403_sentence(operator_factory):
    @role_required("engineer")
    def view(request):
        return HttpResponse("secret")

    request = RequestFactory().get("/x")
    request.user = operator_factory("vee", "viewer")
    request.htmx = False
    response = view(request)
    assert response.status_code == 403
    assert b"engineer" in response.content and b"secret" not in response.content
    request.user = operator_factory("ed", "engineer")
    assert view(request).content == b"secret"


def test_navigation_asks_for_the_role_once_per_request(
    viewer_client, django_assert_max_num_queries
):
    # session, user, the job lookup and ONE groups query (not one per navigation section)
    with django_assert_max_num_queries(4):
        response = viewer_client.get("/jobs/999999/")
    assert response.status_code == 404
    assert b"Overview" in response.content  # the navigation was drawn
