"""Will a login stick? HTTPS-only cookies (SECURE_COOKIES) need the console served on HTTPS."""

from __future__ import annotations

from django.conf import settings

from dashboard.onboarding.checklist import BAD, OK, WARN, Check


def cookies_over_http(request_secure: bool | None = None) -> Check:
    """Return whether logins will stick: HTTPS-only cookies need the console served on HTTPS.

    With a request, its scheme decides; without one (doctor, connect), the settings that say
    HTTPS is in front (a redirect, a TLS proxy, https origins).
    """
    title = "cookies and http"
    secure_cookies = bool(getattr(settings, "SECURE_COOKIES", True))
    if not secure_cookies:
        return Check(
            title,
            OK,
            "SECURE_COOKIES=false: logins work over plain http (keep it to 127.0.0.1; "
            "elsewhere serve HTTPS with SECURE_COOKIES=true)",
        )
    if request_secure is None:
        served_over_https = bool(
            getattr(settings, "SECURE_SSL_REDIRECT", False)
            or getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
            or any(o.startswith("https://") for o in getattr(settings, "CSRF_TRUSTED_ORIGINS", []))
        )
    else:
        served_over_https = request_secure
    if served_over_https:
        return Check(title, OK, "SECURE_COOKIES=true and the console is served over HTTPS")
    where = (
        "this page came over plain http"
        if request_secure is False
        else "nothing says HTTPS is in front (SECURE_SSL_REDIRECT, BEHIND_TLS_PROXY or an "
        "https CSRF_TRUSTED_ORIGINS)"
    )
    return Check(
        title,
        BAD if request_secure is False else WARN,
        f"SECURE_COOKIES=true but {where}: over plain http (e.g. http://127.0.0.1:8000) "
        "browsers drop HTTPS-only cookies, so logging in silently fails",
        "serve the console over HTTPS, or set SECURE_COOKIES=false for local plain-http use",
    )
