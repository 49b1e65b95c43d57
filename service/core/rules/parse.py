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
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,99}$")
MAX_VALUES = 1000


class RuleError(NewsflowError):
    """A rules file that cannot be used; the message names the rule and the line."""


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
            raise RuleError(f"line {key_node.start_mark.line + 1}: keys must be text, got {key!r}")
        if key in out:
            raise RuleError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_duration(value: Any) -> int:
    """Seconds in `30s`, `30m`, `1h`, `7d` (a bare integer is seconds); raises ValueError."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = _DURATION.match(str(value)) if isinstance(value, str) else None
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"bad duration {value!r}: use a positive number with s, m, h or d, e.g. 30m, 6h, 7d")
    return int(m.group(1)) * _UNITS[m.group(2)]


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
    except yaml.YAMLError as e:
        raise RuleError(f"not valid YAML: {e}") from e
    if not isinstance(data, dict) or set(data) != {"rules"} or not isinstance(data["rules"], list):
        raise RuleError("a rules file is a mapping with one key, `rules`, holding a list of rules")
    known_themes = None if themes is None else set(themes)
    rules, seen = [], {}
    for index, raw in enumerate(data["rules"]):
        rule = _rule(raw, index, resolve, known_themes)
        if rule.id in seen:
            raise RuleError(f"rule {rule.id!r} (line {rule.line}): duplicate id, first at line {seen[rule.id]}")
        seen[rule.id] = rule.line
        rules.append(rule)
    return rules


def _rule(raw: Any, index: int, resolve: Resolver, themes: set[str] | None) -> Rule:
    if not isinstance(raw, _Lined):
        raise RuleError(f"rule #{index + 1}: each rule is a mapping, got {type(raw).__name__}")
    rule_id = raw.get("id")
    where = f"rule {rule_id!r} (line {raw.line})" if isinstance(rule_id, str) else f"rule #{index + 1} (line {raw.line})"

    def fail(message: str, key: str | None = None, node: _Lined | None = None) -> RuleError:
        line = None
        if node is not None:
            line = node.key_lines.get(key, node.line) if key else node.line
        elif key:
            line = raw.key_lines.get(key)
        return RuleError(f"{where}: {message}" + (f" (line {line})" if line and line != raw.line else ""))

    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise fail(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}", sorted(unknown)[0])
    for key in ("id", "name", "severity", "when"):
        if key not in raw:
            raise fail(f"missing `{key}`")
    if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
        raise fail("`id` must be lower-case letters, digits, `-`, `_` or `.` (at most 100)", "id")
    if not isinstance(raw["name"], str) or not raw["name"].strip():
        raise fail("`name` must be non-empty text", "name")
    if raw["severity"] not in SEVERITIES:
        raise fail(f"bad severity {raw['severity']!r}; use one of {', '.join(SEVERITIES)}", "severity")

    def condition(item: Any, path: str) -> Condition:
        if not isinstance(item, _Lined) or len(item) == 0:
            raise fail(f"{path}: each condition is a mapping like `keyword: [...]` or `any: [...]`")
        ops = [k for k in item if k in _OPS]
        if ops:
            if len(item) != 1:
                raise fail(f"{path}: `{ops[0]}` must stand alone in its mapping", ops[0], item)
            return group(ops[0], item[ops[0]], f"{path}.{ops[0]}", item)
        return leaf(item, path)

    def group(op: str, items: Any, path: str, node: _Lined) -> Group:
        if not isinstance(items, list) or not items:
            raise fail(f"{path}: `{op}` needs a non-empty list of conditions", op, node)
        return Group(op, tuple(condition(item, f"{path}[{i}]") for i, item in enumerate(items)))

    def leaf(item: _Lined, path: str) -> Leaf:
        kinds = [k for k in item if k in LEAF_KINDS]
        extra = set(item) - set(LEAF_KINDS) - {"min_score"}
        if extra or len(kinds) != 1:
            bad = sorted(extra) or kinds
            raise fail(f"{path}: unknown or mixed condition {bad}; conditions are {', '.join(LEAF_KINDS + _OPS)}",
                       bad[0] if bad else None, item)
        kind = kinds[0]
        line = item.key_lines[kind]
        raw_values = item[kind] if isinstance(item[kind], list) else [item[kind]]
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
                    raise fail(f"{path}: unknown entity {text!r} (not an id, name or alias in the KB)", kind, item)
                values.append(resolved)
        elif kind == "entity_type":
            bad = [t for t in texts if t not in ENTITY_TYPES]
            if bad:
                raise fail(f"{path}: unknown entity_type {bad[0]!r}; use one of {', '.join(ENTITY_TYPES)}", kind, item)
            values = texts
        elif kind == "theme":
            bad = [t for t in texts if themes is not None and t not in themes]
            if bad:
                raise fail(f"{path}: unknown theme {bad[0]!r}; known: {', '.join(sorted(themes))}", kind, item)
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
        raise fail(f"`when` takes only all/any/none, got {sorted(unknown_ops)}", sorted(unknown_ops)[0], when)
    if set(when) == {"none"}:
        raise fail("`when` with only `none` would match nearly every article; add `all` or `any`", "when")
    # The top level is an implicit `all` of its groups: `any` needs one hit, `none` needs zero.
    top = Group("all", tuple(group(op, when[op], f"when.{op}", when) for op in _OPS if op in when))

    threshold = None
    if raw.get("threshold") is not None:
        t = raw["threshold"]
        if not isinstance(t, _Lined):
            raise fail("`threshold` must be a mapping with count, window and optional distinct", "threshold")
        unknown = set(t) - _THRESHOLD_KEYS
        if unknown:
            raise fail(f"threshold: unknown key(s) {sorted(unknown)}", sorted(unknown)[0], t)
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
            raise fail(f"threshold: `distinct` can only be `source`, got {distinct!r}", "distinct", t)
        threshold = Threshold(count, window, distinct)

    group_by = raw.get("group_by", "story")
    if not isinstance(group_by, str):
        raise fail("`group_by` must be story, rule or entity:<id or name>", "group_by")
    if group_by.startswith("entity:"):
        entity = resolve(group_by[len("entity:"):].strip())
        if entity is None:
            raise fail(f"group_by: unknown entity {group_by[len('entity:'):]!r}", "group_by")
        group_by = f"entity:{entity}"
    elif group_by not in ("story", "rule"):
        raise fail(f"bad group_by {group_by!r}; use story, rule or entity:<id or name>", "group_by")
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
