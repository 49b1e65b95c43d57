"""The knowledge base and theme taxonomy: file formats, validation, clear errors.

Entities come from YAML (`entities: [...]`), JSON (a list or `{"entities": [...]}`) or JSONL
(one entity per line, for large KBs). Themes come from YAML or JSON (`themes: [...]`).
"""

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service import codec
from service.errors import NewsflowError

EntityType = Literal["PERSON", "ORGANIZATION", "CRIMINAL_GROUP", "LOCATION"]
MAX_ALIAS_CHARS = 200
# YAML aliases let a few anchored lines repeat at every level and expand to billions of
# values; the tagger's cost follows the expanded count. A file may expand to one node per
# character of its text plus this many.
YAML_SLACK_NODES = 100_000
# What PyYAML's safe constructors raise, besides YAMLError, on explicitly tagged nonsense:
# `!!int abc` (ValueError), `!!int ""` (IndexError), `!!bool maybe` (KeyError), `!!timestamp x` (AttributeError);
# also a decimal of more than 4,300 digits (ValueError).
_YAML_VALUE_ERRORS = (ValueError, KeyError, IndexError, AttributeError, TypeError)


class KBError(NewsflowError):
    """A knowledge base or theme file that cannot be used; says where and why."""


class Designation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    list: str = Field(min_length=1, max_length=40, description="e.g. FTO, SDGT, SDN")
    effective: str | None = Field(None, description="ISO date the designation took effect")

    @field_validator("effective", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        # YAML reads 2025-02-20 as a date; keep the ISO text.
        return value.isoformat() if hasattr(value, "isoformat") else value


def _alias_list(value: Any) -> Any:
    # A number written as an alias is its text; a huge one stays a number and fails as one
    # (str() of an integer past 4,300 digits raises).
    if isinstance(value, list):
        return [str(v) if isinstance(v, (int, float)) and abs(v) < 10**18 else v for v in value]
    return value


class Entity(BaseModel):
    """One canonical entity. `aliases` always link; `weak_aliases` link only when the article
    also has a strong mention of the entity or one of its `context` phrases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=MAX_ALIAS_CHARS)
    type: EntityType
    subtype: str = Field(min_length=1, max_length=60)
    aliases: tuple[str, ...] = ()
    weak_aliases: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    designations: tuple[Designation, ...] = ()
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("aliases", "weak_aliases", "context", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: Any) -> Any:
        return _alias_list(value)

    @field_validator("aliases", "weak_aliases", "context")
    @classmethod
    def _clean(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))
        too_long = [v for v in cleaned if len(v) > MAX_ALIAS_CHARS]
        if too_long:
            raise ValueError(f"aliases are limited to {MAX_ALIAS_CHARS} characters")
        return cleaned


class Theme(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    phrases: dict[str, tuple[str, ...]] = Field(description="language code -> phrases")


def _expanded_nodes(root: yaml.Node) -> int | None:
    """Nodes of a composed YAML document with every alias expanded (shared subtrees counted
    each time they are used); None when an alias refers to a node that encloses it."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = [] if isinstance(node, yaml.ScalarNode) else (
            [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
        )
        if children_done:
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            open_nodes.discard(id(node))
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            return None
        open_nodes.add(id(node))
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                return None
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _load_yaml(text: str) -> Any:
    """`yaml.safe_load`, refusing documents whose aliases expand them far beyond their text."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_nodes(node)
        if size is None:
            raise KBError("YAML aliases refer to themselves")
        if size > len(text) + YAML_SLACK_NODES:
            raise KBError(f"YAML aliases expand the file to {min(size, 10**12):,}+ values, far more than it spells out")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise KBError(f"{path}: cannot be read: {e}") from e
    kind = path.suffix.lstrip(".").upper() if path.suffix in (".json", ".jsonl") else "YAML"
    line = 0
    try:
        if path.suffix == ".jsonl":
            items = []
            # Only "\n" ends a line: JSON strings may hold U+2028 and other breaks that
            # str.splitlines would cut them at.
            for line, text_line in enumerate(text.split("\n"), 1):
                if text_line.strip():
                    items.append(codec.loads(text_line))
            return items
        if path.suffix == ".json":
            return codec.loads(text)
        return _load_yaml(text)
    except KBError as e:
        raise KBError(f"{path}: {e}") from e
    except RecursionError as e:
        raise KBError(f"{path}: not valid {kind}: collections are nested too deeply") from e
    except (codec.JSONDecodeError, yaml.YAMLError, *_YAML_VALUE_ERRORS) as e:
        where = f" (line {line})" if line else ""
        raise KBError(f"{path}: not valid {kind}{where}: {e}"[:500]) from e


def _items(data: Any, key: str, where: str) -> list[Any]:
    if isinstance(data, dict):
        data = data.get(key)
    if not isinstance(data, list):
        raise KBError(f"{where}: expected a list of {key} (or a mapping with a `{key}` list)")
    return data


def _validate(model: type[BaseModel], items: list[Any], where: str) -> list[Any]:
    out, ids = [], set()
    for n, item in enumerate(items):
        try:
            obj = model.model_validate(item)
        except ValidationError as e:
            first = e.errors(include_url=False)[0]
            field = ".".join(map(str, first["loc"])) or "(item)"
            ident = item.get("id") if isinstance(item, dict) else None
            # Only a text id is shown (and only its start): str() of a huge number raises.
            ident = ident[:80] if isinstance(ident, str) and ident else "no id"
            raise KBError(f"{where}: item {n} ({ident}): `{field}`: {first['msg']}"[:1000]) from e
        if obj.id in ids:
            raise KBError(f"{where}: item {n}: duplicate id {obj.id[:80]!r}")
        ids.add(obj.id)
        out.append(obj)
    return out


def parse_entities(data: Any, where: str = "knowledge base") -> list[Entity]:
    """Validated entities from already-parsed data; raises `KBError` naming the bad item."""
    return _validate(Entity, _items(data, "entities", where), where)


def parse_themes(data: Any, where: str = "themes") -> list[Theme]:
    return _validate(Theme, _items(data, "themes", where), where)


def parse_stop_phrases(data: Any, where: str = "knowledge base") -> tuple[str, ...]:
    """Phrases that contain an alias but name something else (`Air Force One` is no air force):
    the optional top-level `stop_phrases` list of a YAML or JSON knowledge base."""
    phrases = data.get("stop_phrases", []) if isinstance(data, dict) else []
    if not isinstance(phrases, list) or not all(isinstance(p, str) and 0 < len(p) <= MAX_ALIAS_CHARS for p in phrases):
        raise KBError(f"{where}: `stop_phrases` must be a list of non-empty strings")
    return tuple(phrases)


def load_entities(path: Path) -> list[Entity]:
    return parse_entities(_read(path), str(path))


def load_kb(path: Path) -> tuple[list[Entity], tuple[str, ...]]:
    """Entities and stop phrases of one knowledge base file, read once."""
    data = _read(path)
    return parse_entities(data, str(path)), parse_stop_phrases(data, str(path))


def load_themes(path: Path) -> list[Theme]:
    return parse_themes(_read(path), str(path))
