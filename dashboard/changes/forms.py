"""The reason every row change needs (written to the audit trail with the change)."""

from __future__ import annotations

from dashboard.users.forms import ReasonForm


class ChangeReasonForm(ReasonForm):
    """The reason gate's form, required whatever SUPPORT_REASON_REQUIRED says."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        reason = self.fields["reason"]
        reason.required = True
        reason.label = "Reason for this change"
        reason.help_text = (
            "A ticket reference and a few words; it is written to the audit trail with the "
            "statements and the rows as they were."
        )
        reason.widget.attrs.pop("autofocus", None)
