"""Pure near-duplicate detection: fingerprint articles, then decide against an index."""

from .config import DedupConfig
from .fingerprint import DEFAULT_CONFIG, Fingerprint, fingerprint
from .index import Decision, DedupIndex

__all__ = ["DEFAULT_CONFIG", "Decision", "DedupConfig", "DedupIndex", "Fingerprint", "fingerprint"]
