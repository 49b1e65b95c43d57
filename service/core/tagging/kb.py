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
    if isinstance(value, list):
        return [str(v) if isinstance(v, (int, float)) else v for v in value]
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


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise KBError(f"{path}: cannot be read: {e}") from e
    try:
        if path.suffix == ".jsonl":
            return [codec.loads(line) for line in text.splitlines() if line.strip()]
        if path.suffix == ".json":
            return codec.loads(text)
        return yaml.safe_load(text)
    except (codec.JSONDecodeError, yaml.YAMLError, RecursionError) as e:
        raise KBError(f"{path}: not valid {path.suffix.lstrip('.').upper() or 'YAML'}: {e}") from e


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
            raise KBError(f"{where}: item {n} ({ident or 'no id'}): `{field}`: {first['msg']}") from e
        if obj.id in ids:
            raise KBError(f"{where}: item {n}: duplicate id {obj.id!r}")
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
