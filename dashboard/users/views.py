"""Support view pages: find a user, see and export their data, ownership and isolation."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from dashboard.accounts.roles import role_required
from dashboard.htmx_request import HtmxHttpRequest
from dashboard.users import gate, services
from dashboard.users.access import browsing_access, user_access
from dashboard.users.cards import card_blocks, summary_chips, unlinked_text
from dashboard.users.forms import FindUserForm, ReasonForm
from dashboard.users.ownership import OwnershipMap


def _no_users_table(request: HtmxHttpRequest, problem: str) -> HttpResponse:
    return render(request, "users/find.html", {"problem": problem, "form": FindUserForm()})


@role_required("support")
@require_GET
def find(request: HtmxHttpRequest) -> HttpResponse:
    found = services.overview()
    if found.owners is None:
        return _no_users_table(request, found.problem)
    owners = found.owners
    form = FindUserForm(request.GET or None)
    lookup = None
    if form.is_valid() and form.cleaned_data["q"]:
        # The matches are rows of the users table: a reason for browsing comes first.
        access = browsing_access(request, owners)
        if isinstance(access, HttpResponse):
            return access
        lookup = services.search(access, owners, form.cleaned_data["q"])
        if lookup.exact and len(lookup.matches) == 1:
            url = reverse("users:detail", args=[lookup.matches[0].key])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context = {
        "owners": owners,
        "form": form,
        "lookup": lookup,
        "recent": gate.remembered_subjects(request, owners.users.name),
    }
    template = "users/find.html#results" if request.htmx else "users/find.html"
    return render(request, template, context)


@role_required("support")
@require_http_methods(["GET", "POST"])
def detail(request: HtmxHttpRequest, subject: str) -> HttpResponse:
    found = services.overview()
    if found.owners is None:
        return _no_users_table(request, found.problem)
    owners = found.owners
    services.subject_key(owners, subject)  # a 404 with a sentence if it cannot be an id
    purpose = gate.for_user(owners.users.name, subject)
    context: dict[str, object] = {"owners": owners, "subject": subject}
    if request.method == "POST":
        form = ReasonForm(request.POST)
        if form.is_valid():
            gate.remember_reason(request, purpose, form.cleaned_data["reason"])
            return redirect(request.path)
        return render(request, "users/user.html", {**context, **_gate_context(purpose, form)})
    access = user_access(request, owners, subject)
    if access is None:
        if request.htmx:  # a part of the page asked (e.g. after "Done"): show the whole gate
            return HttpResponseClientRedirect(request.path)
        form = ReasonForm(initial={"reason": gate.latest_reason(request)})
        return render(request, "users/user.html", {**context, **_gate_context(purpose, form)})
    only_table = request.GET.get("table") if request.htmx else None
    footprint = services.view_user(access, owners, subject, only_table)
    context.update(reason=access.reason, footprint=footprint)
    if only_table is not None:
        return render(
            request, "users/user.html#table-card", {**context, "item": footprint.tables[0]}
        )
    eager_cards = max(0, int(settings.SUPPORT_USER_PAGE_CARDS))
    page_url = reverse("users:detail", args=[subject])
    context.update(
        cards=card_blocks(footprint, page_url, eager_cards, owners.statements),
        chips=summary_chips(footprint),
        unlinked=unlinked_text(owners),
    )
    return render(request, "users/user.html", context)


@role_required("support")
@require_POST
def forget(request: HtmxHttpRequest, subject: str) -> HttpResponse:
    found = services.overview()
    if found.owners is not None:
        gate.forget_reason(request, gate.for_user(found.owners.users.name, subject))
    messages.info(request, f"Done with {subject}: viewing their data again asks for a reason.")
    return redirect("users:find")


@role_required("support")
@require_GET
def export(request: HtmxHttpRequest, subject: str) -> HttpResponseBase:
    found = services.overview()
    if found.owners is None:
        return _no_users_table(request, found.problem)
    owners = found.owners
    access = user_access(request, owners, subject)
    if access is None:
        messages.warning(request, "Give a reason before exporting this user's data.")
        return redirect("users:detail", subject=subject)
    pieces = services.export_stream(access, owners, subject)
    response = StreamingHttpResponse(pieces, content_type="application/json; charset=utf-8")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", subject)[:80] or "user"
    response["Content-Disposition"] = f'attachment; filename="user-{safe}-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    return response


@role_required("support")
@require_http_methods(["GET", "POST"])
def reason(request: HtmxHttpRequest) -> HttpResponse:
    """The reason form of the gate, for browsing or for one end-user (`subject`); once a
    reason is given, back to the page that asked (`next`)."""
    data = request.POST if request.method == "POST" else request.GET
    subject = data.get("subject", "")
    owners: OwnershipMap | None = None
    if subject:
        found = services.overview()
        if found.owners is None:
            return _no_users_table(request, found.problem)
        owners = found.owners
        services.subject_key(owners, subject)  # a 404 with a sentence if it cannot be an id
    purpose = gate.for_user(owners.users.name, subject) if owners else gate.BROWSING
    default = reverse("users:detail", args=[subject]) if subject else reverse("data:index")
    back = gate.safe_next(request, data.get("next")) or default
    if request.method == "POST":
        form = ReasonForm(request.POST)
        if form.is_valid():
            gate.remember_reason(request, purpose, form.cleaned_data["reason"])
            return redirect(back)
    else:
        form = ReasonForm(initial={"reason": gate.latest_reason(request)})
    context = {**_gate_context(purpose, form), "next": back}
    return render(request, "users/reason.html", context)


def _gate_context(purpose: gate.Purpose, form: ReasonForm) -> dict[str, object]:
    minutes = max(1, round(gate.reason_ttl().total_seconds() / 60))
    return {"form": form, "gate": True, "purpose": purpose, "ttl_minutes": minutes}


@role_required("support")
@require_GET
def ownership(request: HtmxHttpRequest) -> HttpResponse:
    found = services.overview()
    if found.owners is None:
        return _no_users_table(request, found.problem)
    context = {"owners": found.owners, "rows": services.ownership_rows(found.owners)}
    return render(request, "users/ownership.html", context)


@role_required("support")
@require_GET
def isolation(request: HtmxHttpRequest) -> HttpResponse:
    found = services.overview()
    if found.owners is None:
        return _no_users_table(request, found.problem)
    context: dict[str, object] = {"owners": found.owners}
    if request.htmx:
        context["report"] = services.isolation(found.owners)
        return render(request, "users/isolation.html#report", context)
    return render(request, "users/isolation.html", context)
