"""Topic names of the contract, with the configured prefix applied."""

from dataclasses import dataclass

from service.settings import Settings


@dataclass(frozen=True)
class TopicNames:
    raw: str
    enriched: str
    duplicates: str
    invalid: str
    alerts: str
    dedup_requests: str
    alert_rules: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "TopicNames":
        p = settings.topic_prefix
        return cls(
            raw=f"{p}articles.raw",
            enriched=f"{p}articles.enriched",
            duplicates=f"{p}articles.duplicates",
            invalid=f"{p}articles.invalid",
            alerts=f"{p}alerts",
            dedup_requests=f"{p}newsflow.dedup-requests",
            alert_rules=f"{p}alert-rules",
        )

    def all(self) -> list[str]:
        """The contract's topics (internal ones excluded)."""
        return [self.raw, self.enriched, self.duplicates, self.invalid, self.alerts]

    def partitions(self, default: int) -> dict[str, int]:
        """Every topic newsflow creates with its partition count.

        The dedup index is one ordered log so that the first copy seen is the original whatever
        the raw partitioning: its request topic has one partition. The rules topic holds one
        current rule file.
        """
        return {**{name: default for name in self.all()}, self.dedup_requests: 1, self.alert_rules: 1}

    def outcomes(self) -> list[str]:
        """The topics where each raw message ends up exactly once."""
        return [self.enriched, self.duplicates, self.invalid]

    def resolve(self, name: str) -> str:
        """Accept a contract name (`articles.enriched`), a short one (`enriched`) or a full one."""
        short = {
            "raw": self.raw,
            "enriched": self.enriched,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "alerts": self.alerts,
        }
        prefix = self.raw[: -len("articles.raw")]
        if name in short:
            return short[name]
        if prefix + name in self.all():
            return prefix + name
        return name
