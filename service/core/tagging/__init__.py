"""Entity linking and themes: one Aho-Corasick pass over an article, linear in its length."""

from .kb import KBError, Entity, Theme, load_entities, load_kb, load_themes, parse_entities, parse_stop_phrases, parse_themes
from .matcher import Tagger, Tags

__all__ = [
    "Entity", "KBError", "Tagger", "Tags", "Theme",
    "load_entities", "load_kb", "load_themes", "parse_entities", "parse_stop_phrases", "parse_themes",
]
