"""The setup checklist (admins): its own page, and the part it was on the Overview."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.accounts.roles import role_required
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.onboarding.checklist import OK
from dashboard.onboarding.checks import setup_checks


@require_GET
@role_required("admin")
def checklist(request: HtmxHttpRequest) -> HttpResponse:
    checks = setup_checks(request_secure=request.is_secure())
    context = {"checks": checks, "problems": sum(1 for c in checks if c.status != OK)}
    template = "onboarding/checklist.html" if request.htmx else "onboarding/page.html"
    return render(request, template, context)
