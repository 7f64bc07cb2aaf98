"""Forms of the support view: finding a user, and the reason for looking at their data."""

from __future__ import annotations

import unicodedata

from django import forms

from dashboard.users.gate import reason_required


class FindUserForm(forms.Form):
    q = forms.CharField(
        label="User id, email or name",
        max_length=320,
        required=False,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "placeholder": "user id, email or name, or the start of one",
                "autocomplete": "off",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason or ticket reference",
        max_length=500,
        strip=True,
        help_text="For example “SUP-1432: user reports missing tasks”. "
        "It is written to the audit trail with everything you open for this user.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = reason_required()

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"]
        # Characters one sees: zero-width spaces, joiners or marks alone are no reason.
        visible = [c for c in reason if unicodedata.category(c)[0] not in "CZM"]
        if reason and len(visible) < 3:
            raise forms.ValidationError(
                "Give a ticket reference or a few words (3 characters or more)."
            )
        return reason


class AsOfForm(forms.Form):
    """Compare with the data as of a time (a Neon point in time, or a local snapshot)."""

    when = forms.DateTimeField(
        label="As of",
        input_formats=[
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d %H:%M:%S",
        ],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": "Enter a date and time, like 2025-01-31 14:30."},
    )
    keep = forms.BooleanField(
        required=False,
        label="Keep the branch (engineers: it is not deleted afterwards)",
    )
