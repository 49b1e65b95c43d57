"""Compiled-ready rule objects: what `parse` produces and `engine` and `alerts` consume."""

from dataclasses import dataclass
from typing import Literal, Union

SEVERITIES = ("info", "warning", "critical")
LEAF_KINDS = ("entity", "entity_type", "designation", "theme", "keyword", "source", "language", "title_keyword")
ENTITY_TYPES = ("PERSON", "ORGANIZATION", "CRIMINAL_GROUP", "LOCATION")


@dataclass(frozen=True)
class Leaf:
    """One test on an article; true when any of `values` holds.

    Values are already normalised: entity ids (resolved), folded keyword phrases, lower-case
    sources and languages. `min_score` only applies to `theme`.
    """

    kind: str
    values: tuple[str, ...]
    min_score: float = 0.0
    line: int | None = None


@dataclass(frozen=True)
class Group:
    """`all`, `any` or `none` over leaves and nested groups."""

    op: Literal["all", "any", "none"]
    items: tuple[Union["Leaf", "Group"], ...]


Condition = Union[Leaf, Group]


@dataclass(frozen=True)
class Threshold:
    """Fire once `count` articles (or distinct sources) match within `window` seconds."""

    count: int
    window: int
    distinct: Literal["source"] | None = None


@dataclass(frozen=True)
class Rule:
    """One alerting rule. `group_by` is `story`, `rule` or `entity:<resolved id>`; `cooldown` in seconds."""

    id: str
    name: str
    severity: str
    when: Group
    threshold: Threshold | None = None
    group_by: str = "story"
    cooldown: int = 6 * 3600
    line: int | None = None
