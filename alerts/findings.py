"""What a rule finds: a Finding is an alert before it is raised (alerts.services decides
whether it is new)."""

from dataclasses import dataclass, field

from costledger.money import exact_text, round_money


@dataclass
class Finding:
    """A condition a rule holds now: what would be an alert."""

    rule: str
    scope: str
    threshold: str
    period: str
    title: str
    message: str
    link: str = ""
    figures: dict = field(default_factory=dict)
    incomplete: bool = False
    budget_id: int | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.rule, self.scope, self.threshold, self.period)


def money_text(amount, currency: str) -> str:
    return f"{exact_text(round_money(amount, currency), currency)} {currency}"
