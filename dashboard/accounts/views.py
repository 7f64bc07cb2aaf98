"""Operator login (throttled) and logout."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponse

from dashboard.accounts import throttle
from dashboard.audit.services import client_address


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")
        address = client_address(request)
        if throttle.is_locked(username, address):
            form = self.get_form()
            minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
            form.add_error(
                None,
                f"Too many failed attempts. Try again in {minutes} minute(s), "
                "or ask an administrator to reset your password.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            throttle.clear(username, address)
        else:
            throttle.record_failure(username, address)
        return response


class LogoutView(auth_views.LogoutView):
    pass
