"""The whole pipeline in one process, without a broker: raw bytes in, outcome messages out.

The same core calls the two agents make for one message (the ingest agent's `prepare`, the
dedup agent's `decide` and alert decision), minus the hop between them through the dedup
request topic. The benchmark times this as the ceiling a worker could reach; tests use it as
the reference for what the worker should publish.
"""

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from service import codec
from service.core.alert_stage import Sweeper, decide_alerts
from service.core.dedup import DEFAULT_CONFIG, DedupConfig, DedupIndex
from service.core.dedup_stage import decide
from service.core.ingest import Limits
from service.core.pipeline import prepare
from service.core.rules import AlertState, RuleSet
from service.core.tagging import Tagger
from service.schemas.article import SourceRef

class Output(NamedTuple):
    """One message to publish: `topic` is enriched, duplicates, invalid or alerts."""

    topic: str
    key: bytes | None
    value: bytes


@dataclass
class Pipeline:
    """A tagger, rules and dedup/alert state over caller-owned mappings (dicts in tests)."""

    tagger: Tagger
    rules: RuleSet
    index: DedupIndex
    alerts: AlertState
    stories: MutableMapping[str, Any]
    limits: Limits = Limits()
    config: DedupConfig = DEFAULT_CONFIG
    decided: int = field(default=0, init=False)
    sweeper: Sweeper = field(default_factory=Sweeper, init=False)

    @classmethod
    def in_memory(cls, tagger: Tagger, rules: RuleSet, limits: Limits = Limits(),
                  config: DedupConfig = DEFAULT_CONFIG) -> "Pipeline":
        """Empty state held in dicts."""
        return cls(tagger, rules, DedupIndex({}, {}, {}, {}, config), AlertState({}), {}, limits, config)

    def process(self, value: bytes | None, key: bytes | None, source: SourceRef, received_at: datetime) -> list[Output]:
        """The outcome of one raw message (exactly one of enriched, duplicates, invalid), then
        any alert events it causes. `received_at` also stands for the time of the decision."""
        prepared = prepare(value, key, source, received_at, self.limits, self.tagger, self.rules, self.config)
        if prepared.request is None:
            return [Output("invalid", key, codec.dumps(prepared.dead.model_dump(mode="json")))]
        return self.settle(prepared.request, received_at)

    def settle(self, request: dict[str, Any], received_at: datetime) -> list[Output]:
        """The dedup step for one prepared request: its outcome, then its alert events."""
        where, record = decide(self.index, request, received_at)
        out = [Output(where, record["id"].encode(), codec.dumps(record))]
        now = request["time"]
        events = decide_alerts(self.alerts, self.rules, self.stories, where, record, request["rules"], now)
        out += [Output("alerts", e["alert_id"].encode(), codec.dumps(e)) for e in events]
        self.decided += 1
        self.sweeper.prune_when_due(self.alerts, self.stories, self.decided, now, self.config.retention_seconds)
        return out
