"""The review data model: severities, one finding, and the review of one revision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

DANGER, WARNING, INFO = "danger", "warning", "info"
SEVERITY_ORDER = {DANGER: 0, WARNING: 1, INFO: 2}
REVISION_WIDE = -1  # the statement index of a finding about the whole revision


@dataclass(frozen=True)
class Finding:
    """One problem found in a revision's SQL, on one statement (or the whole revision)."""

    source: str  # "squawk" or "schemadesk"
    rule: str
    severity: str
    message: str
    statement: str = ""
    help: str = ""
    statement_index: int = REVISION_WIDE  # position in split_statements() of the upgrade SQL
    problem: str = ""  # what is wrong, shared by the rules of both sources that see it
    also: tuple[str, ...] = ()  # "source: rule" of the findings merged into this one

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["also"] = list(self.also)
        return data

    def merged_with(self, other: Finding) -> Finding:
        """Return this finding with `other` (the same problem on the same statement) folded in."""
        severity = min(self.severity, other.severity, key=lambda s: SEVERITY_ORDER.get(s, 9))
        message = self.message
        if other.source == self.source and other.message not in message:
            message = f"{message} {other.message}"
        mine = f"{self.source}: {self.rule}"
        names = (*self.also, f"{other.source}: {other.rule}", *other.also)
        return replace(
            self,
            severity=severity,
            message=message,
            help=self.help or other.help,
            also=tuple(dict.fromkeys(name for name in names if name != mine)),
        )


@dataclass(frozen=True)
class Review:
    findings: list[Finding]
    notes: list[str]

    def as_dicts(self) -> list[dict[str, object]]:
        return [finding.as_dict() for finding in self.findings]
