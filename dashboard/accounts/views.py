"""Operator login (throttled) and logout."""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponse

from dashboard.accounts import throttle
from dashboard.audit.services import client_address
from dashboard.onboarding.checklist import BAD
from dashboard.onboarding.cookies import cookies_over_http


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Over plain http with HTTPS-only cookies the login would silently not stick: say so.
        cookies = cookies_over_http(request_secure=self.request.is_secure())
        context["cookie_problem"] = cookies if cookies.status == BAD else None
        return context

    def post(self, request, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")
        address = client_address(request)
        if not throttle.attempt_allowed(username, address):
            return self.locked_response(username)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            throttle.record_success(username, address)
        else:
            throttle.record_failure(username, address)
        return response

    def locked_response(self, username: str) -> HttpResponse:
        """Return the lockout page: the same whatever the password, which is never checked.

        The form is unbound on purpose: rendering a bound form's errors would validate it,
        and validating an AuthenticationForm checks the password.
        """
        form = self.get_form_class()(request=self.request, initial={"username": username})
        minutes = max(1, math.ceil(settings.LOGIN_LOCKOUT_SECONDS / 60))
        message = (
            f"Too many failed attempts. Try again in {minutes} minute(s), "
            "or ask an administrator to reset your password."
        )
        context = self.get_context_data(form=form, locked_message=message)
        return self.render_to_response(context, status=429)


class LogoutView(auth_views.LogoutView):
    pass
