"""Tunable parameters of near-duplicate detection.

Defaults were chosen from the labelled evaluation in docs/dedup-eval.md.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DedupConfig:
    """Frozen parameters shared by fingerprinting and the index.

    Fingerprints made with one config must only be checked against an index using
    the same shingle_size, num_bins, bands, rows and sketch_size.
    """

    shingle_size: int = 5
    num_bins: int = 64
    bands: int = 32
    rows: int = 2
    sketch_size: int = 128
    containment_threshold: float = 0.45
    jaccard_threshold: float = 0.15
    retention_seconds: int = 7 * 24 * 3600
    time_bucket_seconds: int = 3600
    bucket_capacity: int = 64

    def __post_init__(self) -> None:
        if self.bands * self.rows > self.num_bins:
            raise ValueError("bands * rows must not exceed num_bins")
        if self.num_bins & (self.num_bins - 1):
            raise ValueError("num_bins must be a power of two")
        if self.bucket_capacity < 1:
            raise ValueError("bucket_capacity must be positive")
        if self.shingle_size < 1 or self.sketch_size < 1:
            raise ValueError("shingle_size and sketch_size must be positive")
