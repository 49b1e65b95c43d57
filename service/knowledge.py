"""The knowledge base the worker tags with: loaded at start, reloaded when its files change."""

import logging
from dataclasses import dataclass
from pathlib import Path

from service.core.tagging import KBError, Tagger, load_kb, load_themes
from service.settings import Settings

log = logging.getLogger(__name__)
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
DEFAULT_KB = SEEDS / "kb" / "entities.yaml"
DEFAULT_THEMES = SEEDS / "themes.yaml"


def file_mtime(path: Path) -> float | None:
    """Modification time of a watched file, None while it is missing."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None


@dataclass
class KnowledgeBase:
    """Holds the current `Tagger`; a failed reload keeps the previous one."""

    kb_path: Path
    themes_path: Path
    tagger: Tagger | None = None
    _stamp: tuple = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> "KnowledgeBase":
        kb = cls(settings.kb_path or DEFAULT_KB, settings.themes_path or DEFAULT_THEMES)
        kb.load()
        return kb

    def load(self) -> None:
        """Build a tagger from the files; raises `KBError` and keeps the old tagger on failure."""
        stamp = (file_mtime(self.kb_path), file_mtime(self.themes_path))
        entities, stop_phrases = load_kb(self.kb_path)
        tagger = Tagger(entities, load_themes(self.themes_path), stop_phrases)
        self.tagger, self._stamp = tagger, stamp
        log.info("knowledge base loaded: %d entities, %d aliases, %d themes",
                 len(tagger.entities), tagger.alias_count, len(tagger.themes))

    def reload_if_changed(self) -> bool | None:
        """True when reloaded, False when unchanged, None when the new files were rejected."""
        if (file_mtime(self.kb_path), file_mtime(self.themes_path)) == self._stamp:
            return False
        try:
            self.load()
        except KBError as e:
            log.error("knowledge base reload rejected, keeping the previous one: %s", e)
            self._stamp = (file_mtime(self.kb_path), file_mtime(self.themes_path))
            return None
        return True
