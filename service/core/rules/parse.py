"""Rules from YAML: strict validation with errors that name the rule and the line.

The YAML is loaded with a loader whose mappings remember the line of each key, so an error
deep inside a `when` tree can still point at the line to fix. Entity references are resolved
to ids here, once, through a resolver the caller passes in (the KB's name/alias -> id).
"""

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from service.core.tagging.fold import fold
from service.errors import NewsflowError

from .model import ENTITY_TYPES, LEAF_KINDS, SEVERITIES, Condition, Group, Leaf, Rule, Threshold

Resolver = Callable[[str], str | None]

_RULE_KEYS = {"id", "name", "severity", "when", "threshold", "group_by", "cooldown", "description"}
_THRESHOLD_KEYS = {"count", "distinct", "window"}
_OPS = ("all", "any", "none")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,99}")
MAX_VALUES = 1000
# What PyYAML's safe constructors raise, besides YAMLError, on explicitly tagged nonsense:
# `!!int abc` (ValueError), `!!int ""` (IndexError), `!!bool maybe` (KeyError), `!!timestamp x` (AttributeError).
_YAML_VALUE_ERRORS = (ValueError, KeyError, IndexError, AttributeError, TypeError)
# Nesting of all/any/none inside `when`: real rules use a handful of levels.
MAX_DEPTH = 16
# Conditions plus values in a whole file. YAML aliases can repeat a subtree at every level
# (a few lines expand to billions of conditions); this keeps parsing linear in the text.
MAX_ITEMS = 200_000
MAX_DURATION = 365 * 86400
_INT_LIMIT = 2**63  # numbers travel as JSON, where orjson takes 64-bit integers only
_SHOWN_CHARS = 60


class RuleError(NewsflowError):
    """A rules file that cannot be used; the message names the rule and the line."""


def _show(value: Any) -> str:
    """`repr` of a value for an error message, cut so that a huge value gives a short message."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


class _Lined(dict):
    """A YAML mapping that remembers where it and each of its keys are."""

    line: int | None = None
    key_lines: dict


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Lined:
    loader.flatten_mapping(node)
    out = _Lined()
    out.line, out.key_lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise RuleError(f"line {key_node.start_mark.line + 1}: keys must be text, got {_show(key)}")
        if key in out:
            raise RuleError(f"line {key_node.start_mark.line + 1}: duplicate key {_show(key)}")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    # A plain int() of a long decimal raises ValueError past 4,300 digits; hex has no limit.
    value = None
    if len(node.value) <= 100:
        value = loader.construct_yaml_int(node)
    if value is None or not -_INT_LIMIT <= value < _INT_LIMIT:
        raise RuleError(f"line {node.start_mark.line + 1}: the number {_show(node.value)} is too large")
    return value


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def parse_duration(value: Any) -> int:
    """Seconds in `30s`, `30m`, `1h`, `7d` (a bare integer is seconds), at most 365 days;
    raises ValueError."""
    seconds = 0
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (m := _DURATION.match(value)) and len(m.group(1)) <= 12:
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if not 0 < seconds <= MAX_DURATION:
        raise ValueError(
            f"bad duration {_show(value)}: use a positive number with s, m, h or d up to 365d, e.g. 30m, 6h, 7d"
        )
    return seconds


def load_rules(path: Path, resolve: Resolver, themes: Iterable[str] | None = None) -> list[Rule]:
    """Rules of one YAML file; see `parse_rules`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise RuleError(f"{path}: cannot read rules: {e}") from e
    try:
        return parse_rules(text, resolve, themes)
    except RuleError as e:
        raise RuleError(f"{path}: {e}") from e


def parse_rules(text: str, resolve: Resolver, themes: Iterable[str] | None = None) -> list[Rule]:
    """Validated rules from YAML text `rules: [...]`.

    `resolve` maps an entity id, canonical name or alias to an id (None when unknown);
    `themes`, when given, are the theme ids a rule may name. Raises `RuleError`.
    """
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError as e:
        # PyYAML builds nested collections recursively.
        raise RuleError("not usable YAML: collections are nested too deeply") from e
    except yaml.YAMLError as e:
        raise RuleError(f"not valid YAML: {e}"[:500]) from e
    except _YAML_VALUE_ERRORS as e:
        raise RuleError(f"not valid YAML: a tagged value (`!!int`, `!!bool`, ...) does not fit its tag: {e}"[:500]) from e
    if not isinstance(data, dict) or set(data) != {"rules"} or not isinstance(data["rules"], list):
        raise RuleError("a rules file is a mapping with one key, `rules`, holding a list of rules")
    known_themes = None if themes is None else set(themes)
    rules, seen = [], {}
    budget = _Budget(MAX_ITEMS)
    for index, raw in enumerate(data["rules"]):
        rule = _rule(raw, index, resolve, known_themes, budget)
        if rule.id in seen:
            raise RuleError(f"rule {rule.id!r} (line {rule.line}): duplicate id, first at line {seen[rule.id]}")
        seen[rule.id] = rule.line
        rules.append(rule)
    return rules


class _Budget:
    """Conditions and values a file may still expand to."""

    def __init__(self, items: int) -> None:
        self.left = items

    def spend(self, items: int) -> bool:
        self.left -= items
        return self.left >= 0


def _rule(raw: Any, index: int, resolve: Resolver, themes: set[str] | None, budget: _Budget) -> Rule:
    if not isinstance(raw, _Lined):
        raise RuleError(f"rule #{index + 1}: each rule is a mapping, got {type(raw).__name__}")
    rule_id = raw.get("id")
    where = f"rule {_show(rule_id)} (line {raw.line})" if isinstance(rule_id, str) else f"rule #{index + 1} (line {raw.line})"

    def fail(message: str, key: str | None = None, node: _Lined | None = None) -> RuleError:
        line = None
        if node is not None:
            line = node.key_lines.get(key, node.line) if key else node.line
        elif key:
            line = raw.key_lines.get(key)
        return RuleError(f"{where}: {message}" + (f" (line {line})" if line and line != raw.line else ""))

    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise fail(f"unknown key(s) {_show(sorted(unknown))}; allowed: {sorted(_RULE_KEYS)}", sorted(unknown)[0])
    for key in ("id", "name", "severity", "when"):
        if key not in raw:
            raise fail(f"missing `{key}`")
    if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
        raise fail("`id` must be lower-case letters, digits, `-`, `_` or `.` (at most 100)", "id")
    if not isinstance(raw["name"], str) or not raw["name"].strip():
        raise fail("`name` must be non-empty text", "name")
    if raw["severity"] not in SEVERITIES:
        raise fail(f"bad severity {_show(raw['severity'])}; use one of {', '.join(SEVERITIES)}", "severity")

    def condition(item: Any, path: str, depth: int) -> Condition:
        if not isinstance(item, _Lined) or len(item) == 0:
            raise fail(f"{path}: each condition is a mapping like `keyword: [...]` or `any: [...]`")
        if not budget.spend(1):
            raise fail(f"{path}: the file expands to more than {MAX_ITEMS:,} conditions and values "
                       "(YAML aliases repeating a large part?)")
        ops = [k for k in item if k in _OPS]
        if ops:
            if len(item) != 1:
                raise fail(f"{path}: `{ops[0]}` must stand alone in its mapping", ops[0], item)
            return group(ops[0], item[ops[0]], f"{path}.{ops[0]}", item, depth + 1)
        return leaf(item, path)

    def group(op: str, items: Any, path: str, node: _Lined, depth: int) -> Group:
        if not isinstance(items, list) or not items:
            raise fail(f"{path}: `{op}` needs a non-empty list of conditions", op, node)
        if depth > MAX_DEPTH:
            raise fail(f"{path}: all/any/none are nested more than {MAX_DEPTH} deep", op, node)
        return Group(op, tuple(condition(item, f"{path}[{i}]", depth) for i, item in enumerate(items)))

    def leaf(item: _Lined, path: str) -> Leaf:
        kinds = [k for k in item if k in LEAF_KINDS]
        extra = set(item) - set(LEAF_KINDS) - {"min_score"}
        if extra or len(kinds) != 1:
            bad = sorted(extra) or kinds
            raise fail(f"{path}: unknown or mixed condition {_show(bad)}; conditions are {', '.join(LEAF_KINDS + _OPS)}",
                       bad[0] if bad else None, item)
        kind = kinds[0]
        line = item.key_lines[kind]
        raw_values = item[kind] if isinstance(item[kind], list) else [item[kind]]
        if not budget.spend(len(raw_values)):
            raise fail(f"{path}: the file expands to more than {MAX_ITEMS:,} conditions and values "
                       "(YAML aliases repeating a large part?)", kind, item)
        if not raw_values or len(raw_values) > MAX_VALUES or not all(
            isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip() for v in raw_values
        ):
            raise fail(f"{path}: `{kind}` needs non-empty text or a list of 1..{MAX_VALUES} texts", kind, item)
        texts = [str(v).strip() for v in raw_values]
        min_score = 0.0
        if "min_score" in item:
            score = item["min_score"]
            if kind != "theme":
                raise fail(f"{path}: `min_score` only goes with `theme`", "min_score", item)
            if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 <= score <= 1:
                raise fail(f"{path}: `min_score` must be a number from 0 to 1", "min_score", item)
            min_score = float(score)
        if kind == "entity":
            values = []
            for text in texts:
                resolved = resolve(text)
                if resolved is None:
                    raise fail(f"{path}: unknown entity {_show(text)} (not an id, name or alias in the KB)", kind, item)
                values.append(resolved)
        elif kind == "entity_type":
            bad = [t for t in texts if t not in ENTITY_TYPES]
            if bad:
                raise fail(f"{path}: unknown entity_type {_show(bad[0])}; use one of {', '.join(ENTITY_TYPES)}", kind, item)
            values = texts
        elif kind == "theme":
            bad = [t for t in texts if themes is not None and t not in themes]
            if bad:
                raise fail(f"{path}: unknown theme {_show(bad[0])}; known: {', '.join(sorted(themes))}", kind, item)
            values = texts
        elif kind in ("keyword", "title_keyword"):
            values = [" ".join(fold(t).split()) for t in texts]
            if not all(values):
                raise fail(f"{path}: a keyword needs at least one letter or digit", kind, item)
        elif kind in ("source", "language"):
            values = [t.lower() for t in texts]
        else:
            values = texts
        return Leaf(kind, tuple(dict.fromkeys(values)), min_score, line)

    when = raw["when"]
    if not isinstance(when, _Lined) or not when:
        raise fail("`when` must be a mapping with `all`, `any` and/or `none`", "when")
    unknown_ops = set(when) - set(_OPS)
    if unknown_ops:
        raise fail(f"`when` takes only all/any/none, got {_show(sorted(unknown_ops))}", sorted(unknown_ops)[0], when)
    if set(when) == {"none"}:
        raise fail("`when` with only `none` would match nearly every article; add `all` or `any`", "when")
    # The top level is an implicit `all` of its groups: `any` needs one hit, `none` needs zero.
    top = Group("all", tuple(group(op, when[op], f"when.{op}", when, 1) for op in _OPS if op in when))

    threshold = None
    if raw.get("threshold") is not None:
        t = raw["threshold"]
        if not isinstance(t, _Lined):
            raise fail("`threshold` must be a mapping with count, window and optional distinct", "threshold")
        unknown = set(t) - _THRESHOLD_KEYS
        if unknown:
            raise fail(f"threshold: unknown key(s) {_show(sorted(unknown))}", sorted(unknown)[0], t)
        count = t.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise fail("threshold: `count` must be a positive integer", "count", t)
        if "window" not in t:
            raise fail("threshold: `window` is required, e.g. 1h", None, t)
        try:
            window = parse_duration(t["window"])
        except ValueError as e:
            raise fail(f"threshold: {e}", "window", t) from e
        distinct = t.get("distinct")
        if distinct not in (None, "source"):
            raise fail(f"threshold: `distinct` can only be `source`, got {_show(distinct)}", "distinct", t)
        threshold = Threshold(count, window, distinct)

    group_by = raw.get("group_by", "story")
    if not isinstance(group_by, str):
        raise fail("`group_by` must be story, rule or entity:<id or name>", "group_by")
    if group_by.startswith("entity:"):
        entity = resolve(group_by[len("entity:"):].strip())
        if entity is None:
            raise fail(f"group_by: unknown entity {_show(group_by[len('entity:'):])}", "group_by")
        group_by = f"entity:{entity}"
    elif group_by not in ("story", "rule"):
        raise fail(f"bad group_by {_show(group_by)}; use story, rule or entity:<id or name>", "group_by")
    try:
        cooldown = parse_duration(raw.get("cooldown", "6h"))
    except ValueError as e:
        raise fail(str(e), "cooldown") from e
    return Rule(rule_id, raw["name"].strip(), raw["severity"], top, threshold, group_by, cooldown, raw.line)


def kb_resolver(entities: Iterable[Any]) -> Resolver:
    """A resolver over KB entities: exact id first, then folded canonical name or alias."""
    ids, names = set(), {}
    for e in entities:
        ids.add(e.id)
        for alias in (*e.aliases, e.name):
            names[" ".join(fold(alias).split())] = e.id

    def resolve(ref: str) -> str | None:
        return ref if ref in ids else names.get(" ".join(fold(ref).split()))

    return resolve
