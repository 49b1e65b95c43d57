"""The alert rules the worker runs: loaded at start, reloaded when the file changes, replaced by
files published on the rules topic; and, for `newsflow rules list`, which file that is."""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from service.core.rules import Rule, RuleError, RuleSet, kb_resolver, load_rules, parse_rules
from service.core.tagging import Tagger
from service.errors import NewsflowError
from service.knowledge import SEEDS, file_mtime
from service.metrics import METRICS
from service.settings import Settings
from service.topic_names import TopicNames

log = logging.getLogger(__name__)
DEFAULT_RULES = SEEDS / "rules.yaml"


@dataclass
class Rulebook:
    """Holds the current `RuleSet`; a rejected file keeps the previous one."""

    path: Path
    rules: RuleSet | None = None
    _stamp: float | None = None
    from_topic: bool = False

    def load(self, tagger: Tagger) -> None:
        stamp = file_mtime(self.path)
        rules = load_rules(self.path, kb_resolver(tagger.entities), [t.id for t in tagger.themes])
        self.rules, self._stamp = RuleSet.compile(rules), stamp
        METRICS.create_rule_series(rules)
        log.info("alert rules loaded: %d from %s", len(rules), self.path)

    def load_text(self, text: str, tagger: Tagger) -> None:
        """Rules published on the rules topic; from then on they win over the file."""
        rules = parse_rules(text, kb_resolver(tagger.entities), [t.id for t in tagger.themes])
        self.rules, self.from_topic = RuleSet.compile(rules), True
        METRICS.create_rule_series(rules)
        log.info("alert rules loaded from the rules topic: %d", len(rules))

    def reload_if_changed(self, tagger: Tagger) -> bool | None:
        """True when reloaded, False when unchanged, None when the new file was rejected."""
        if self.from_topic or file_mtime(self.path) == self._stamp:
            return False
        try:
            self.load(tagger)
        except RuleError as e:
            log.error("alert rules rejected, keeping the running ones: %s", e)
            self._stamp = file_mtime(self.path)
            return None
        return True


@dataclass(frozen=True)
class Published:
    """The rules file workers run from the rules topic: the last record that parses."""

    rules: list[Rule]
    offset: int
    timestamp_ms: int | None
    rejected_after: int  # later records that did not parse; workers kept these rules


def latest_valid(records: Iterable[tuple[int, int | None, bytes | None]],
                 parse: Callable[[str], list[Rule]]) -> Published | None:
    """What a worker ends up running after following the topic's (offset, timestamp ms, value)
    records in order: each record that parses replaces the rules, the others are rejected
    (as in `agents/rules_feed.py`). None when no record parses."""
    found, rejected = None, 0
    for offset, timestamp_ms, value in records:
        if value is None:
            continue
        try:
            rules = parse(value.decode("utf-8"))
        except (RuleError, UnicodeDecodeError):
            rejected += 1
            continue
        found, rejected = (rules, offset, timestamp_ms), 0
    return None if found is None else Published(*found, rejected)


async def published_rules(settings: Settings, tagger: Tagger) -> Published | None:
    """The rules workers run from the rules topic, read from its start; None when it holds
    none that parse. Raises `NewsflowError` when the broker cannot be read."""
    from service.consumer import read

    records: list[tuple[int, int | None, bytes | None]] = []
    try:
        await read(settings, [TopicNames.from_settings(settings).alert_rules],
                   lambda r: records.append((r.offset, r.timestamp, r.value)))
    except NewsflowError as e:
        # `read` raises the base class itself only for a topic that does not exist (nothing
        # was ever published); its subclasses are real failures (broker, authentication).
        if type(e) is not NewsflowError:
            raise
        return None
    resolver, themes = kb_resolver(tagger.entities), [t.id for t in tagger.themes]
    return latest_valid(records, lambda text: parse_rules(text, resolver, themes))
