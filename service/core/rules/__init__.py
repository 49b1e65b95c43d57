"""Alerting rules: parse YAML rules, match them against enriched articles, decide alerts."""

from .alerts import AlertState, alert_id, group_of
from .engine import Match, RuleSet
from .model import Group, Leaf, Rule, Threshold
from .parse import RuleError, kb_resolver, load_rules, parse_duration, parse_rules

__all__ = [
    "AlertState", "Group", "Leaf", "Match", "Rule", "RuleError", "RuleSet", "Threshold",
    "alert_id", "group_of", "kb_resolver", "load_rules", "parse_duration", "parse_rules",
]
