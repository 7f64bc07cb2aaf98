"""Forms of the branches pages: a new branch, and the confirmations of delete and reset."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from dashboard.branches.provider import BranchError
from dashboard.branches.services import CreateChoices, NewBranch

# One rule for every provider: it is a valid Neon name and a valid local database suffix.
NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
EXPIRY_CHOICES = [
    ("", "Never"),
    ("1h", "In 1 hour"),
    ("1d", "In 1 day"),
    ("7d", "In 7 days"),
    ("30d", "In 30 days"),
]
EXPIRY_DELTAS = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


class CreateBranchForm(forms.Form):
    name = forms.CharField(
        max_length=40,
        help_text="1 to 40 lowercase letters, digits and dashes, e.g. fix-login-42.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    parent = forms.ChoiceField(help_text="The branch whose data the new branch starts from.")
    point_in_time = forms.DateTimeField(
        required=False,
        label="Point in time",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    schema_only = forms.BooleanField(
        required=False,
        label="Schema only (no data)",
        help_text="Copy tables, indexes and constraints, but no rows.",
    )
    expires_in = forms.ChoiceField(
        choices=EXPIRY_CHOICES,
        required=False,
        label="Delete automatically",
        help_text="Neon deletes the branch by itself once it expires.",
    )

    def __init__(self, *args: Any, choices: CreateChoices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choices = choices
        parent = self.fields["parent"]
        assert isinstance(parent, forms.ChoiceField)
        parent.choices = choices.parents
        parent.initial = choices.default_parent
        when = self.fields["point_in_time"]
        zone = timezone.get_current_timezone_name()
        if choices.provider.supports_point_in_time:
            when.help_text = (
                f"Optional, in {zone}: start from the parent as it was then "
                "(within the project's history retention)."
            )
        else:
            when.disabled = True
            when.help_text = (
                f"Not supported by {choices.provider.label}: a local branch copies the parent "
                "as it is now. Point in time needs BRANCH_PROVIDER=neon."
            )
        if not choices.provider.is_neon:
            expiry = self.fields["expires_in"]
            expiry.help_text = (
                "Once it expires, the worker's scheduled job deletes the branch (it looks on "
                f"the schedule BRANCH_EXPIRY_CRON, {settings.BRANCH_EXPIRY_CRON}); the deletion "
                "is in the audit trail."
            )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not NAME_PATTERN.match(name):
            raise forms.ValidationError(
                "Use 1 to 40 lowercase letters, digits and dashes, starting and ending with a "
                "letter or digit."
            )
        if name in self.choices.taken_names:
            raise forms.ValidationError(f"A branch named {name} exists already.")
        if self.choices.target_database:
            from dashboard.branches.local_provider import branch_database_name

            try:
                branch_database_name(self.choices.target_database, name)
            except BranchError as exc:
                raise forms.ValidationError(exc.sentence) from None
        return name

    def clean_point_in_time(self):
        when = self.cleaned_data.get("point_in_time")
        if when is not None and when >= timezone.now():
            raise forms.ValidationError("The point in time must be in the past.")
        return when

    def new_branch(self) -> NewBranch:
        """Return the validated request (call after is_valid())."""
        data = self.cleaned_data
        delta = EXPIRY_DELTAS.get(data.get("expires_in") or "")
        return NewBranch(
            name=data["name"],
            parent_id=data["parent"],
            point_in_time=data.get("point_in_time"),
            schema_only=bool(data.get("schema_only")),
            expires_at=timezone.now() + delta if delta else None,
        )


class ConfirmNameForm(forms.Form):
    """Type the branch's name to confirm a delete."""

    confirm = forms.CharField(
        label="Type the branch name to confirm",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, expected: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip()
        if typed != self.expected:
            raise forms.ValidationError(
                f"That is not the branch's name; type {self.expected} exactly to confirm."
            )
        return typed


class ConfirmResetForm(forms.Form):
    """Tick to confirm a reset (the branch's own changes are lost).

    A branch with children (on Neon) can only be reset when its current state is kept as a new
    branch: the form then asks for that branch's name (Neon's preserve_under_name).
    """

    confirm = forms.BooleanField(
        label="I understand that every change made on this branch will be lost",
        error_messages={"required": "Tick the box to confirm the reset."},
    )

    def __init__(
        self,
        *args: Any,
        branch_name: str = "",
        children: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if children:
            self.fields["preserve_under_name"] = forms.CharField(
                label=(
                    f"It has child branches ({', '.join(children)}), so its current state is "
                    "kept as a new branch named"
                ),
                max_length=256,
                initial=f"{branch_name}-before-reset",
                error_messages={
                    "required": "Name the branch that keeps the current state (Neon needs it "
                    "for a branch with children)."
                },
            )

    def clean_preserve_under_name(self) -> str:
        name = self.cleaned_data["preserve_under_name"].strip()
        if not name:
            raise forms.ValidationError("Name the branch that keeps the current state.")
        return name
