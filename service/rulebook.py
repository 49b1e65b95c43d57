"""The alert rules the worker runs: loaded at start, reloaded when the file changes."""

import logging
from dataclasses import dataclass
from pathlib import Path

from service.core.rules import RuleError, RuleSet, kb_resolver, load_rules, parse_rules
from service.core.tagging import Tagger
from service.knowledge import SEEDS, file_mtime

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
        log.info("alert rules loaded: %d from %s", len(rules), self.path)

    def load_text(self, text: str, tagger: Tagger) -> None:
        """Rules published on the rules topic; from then on they win over the file."""
        rules = parse_rules(text, kb_resolver(tagger.entities), [t.id for t in tagger.themes])
        self.rules, self.from_topic = RuleSet.compile(rules), True
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

