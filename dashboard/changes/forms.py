"""The reason every row change needs (written to the audit trail with the change)."""

from __future__ import annotations

from django import forms


class ChangeReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason for this change",
        max_length=500,
        strip=True,
        help_text="A ticket reference and a few words; it is written to the audit trail with the "
        "statements and the rows as they were.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"]
        if len(reason) < 3:
            raise forms.ValidationError("Give a ticket reference or a few words.")
        return reason
