"""Compile every numba kernel once, so that numba's cache (NUMBA_CACHE_DIR) holds them.

The image build runs `python -m service.warmup`: otherwise each new container compiles the
tagger, fingerprint and rule-scan kernels (~20 s) before it is ready.
"""

from service.core.dedup import fingerprint
from service.knowledge import KnowledgeBase
from service.rulebook import DEFAULT_RULES, Rulebook
from service.settings import Settings


def compile_kernels() -> int:
    """Run each kernel on a small input; returns the rules matched (a use, so none is skipped)."""
    tagger = KnowledgeBase.from_settings(Settings()).tagger
    title = "US military strike destroys drug boat"
    body = "The US Navy struck a suspected drug boat. The military strike destroyed the vessel."
    tags = tagger.tag(title, body)
    fingerprint("warm-up", "one two three four five six seven", None)
    rulebook = Rulebook(DEFAULT_RULES)
    rulebook.load(tagger)
    article = {"title": title, "body": body, "entities": tags.entities, "themes": tags.themes, "language": "en"}
    return len(rulebook.rules.match(article))


if __name__ == "__main__":
    compile_kernels()
