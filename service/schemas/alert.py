"""Alert events on `alerts` (key = the alert id)."""

from typing import Any, Literal

from pydantic import BaseModel, Field


class AlertEvent(BaseModel):
    alert_id: str = Field(description="Stable per (rule, group, firing): updates reuse it.")
    seq: int = Field(
        ge=0,
        description="Update number of this alert: 0 when it fires, then 1, 2, ... (alert_id, seq) "
        "names one update; a consumer that sees it twice may drop the second.",
    )
    rule_id: str
    rule_name: str
    severity: Literal["info", "warning", "critical"]
    status: Literal["firing", "updated"]
    group: str = Field(description="story:<original article id>, entity:<id> or rule.")
    article_ids: list[str] = Field(description="Articles in the alert, oldest first (at most 50).")
    sources: list[str]
    entities: list[str] = Field(description="Entity ids seen in the alert's evidence.")
    evidence: list[dict[str, Any]] = Field(description="Conditions of the rule that matched, with snippets.")
    first_seen: float = Field(description="Article time (epoch seconds) of the first evidence.")
    last_seen: float
    count: int = Field(ge=1, description="Articles counted so far.")
