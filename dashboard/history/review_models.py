"""The review data model: severities, one finding, and the review of one revision."""

from __future__ import annotations

from dataclasses import asdict, dataclass

DANGER, WARNING, INFO = "danger", "warning", "info"
SEVERITY_ORDER = {DANGER: 0, WARNING: 1, INFO: 2}


@dataclass(frozen=True)
class Finding:
    """One problem found in a revision's SQL."""

    source: str  # "squawk" or "schemadesk"
    rule: str
    severity: str
    message: str
    statement: str = ""
    help: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Review:
    findings: list[Finding]
    notes: list[str]

    def as_dicts(self) -> list[dict[str, str]]:
        return [finding.as_dict() for finding in self.findings]
