"""Local RocksDB state that is derived, not durable: rebuilt from a changelogged table."""

import shutil
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteBatch

_MIB = 1024 * 1024


# One block cache for every derived store of the process: together they hold at most this much.
_SHARED_CACHE = Cache(16 * _MIB)


def _options() -> Options:
    # Bounded RAM per store (RocksDB's defaults let memtables reach 128 MiB): the derived
    # lookups hold the whole retention window and must not grow the worker's RSS with it.
    options = Options()
    options.create_if_missing(True)
    options.set_write_buffer_size(8 * _MIB)
    options.set_max_write_buffer_number(2)
    table = BlockBasedOptions()
    table.set_block_cache(_SHARED_CACHE)
    # Most look-ups are misses (the band keys of a new story): a bloom filter answers them
    # without reading the files' blocks. Over 1M-3M keys a get and a put cost 4-5 µs with it,
    # 7.5-14.5 µs without. The filters stay out of the small block cache (~1.3 bytes a key):
    # in it, data blocks evicted them and each look-up re-read them, 300 µs at 3M keys.
    table.set_bloom_filter(10, False)
    options.set_block_based_table_factory(table)
    return options


class LocalMapping(MutableMapping):
    """A MutableMapping over one RocksDB directory (values pickled by rocksdict).

    Keeps memory flat for indexes as large as the retention window: only RocksDB's block
    cache lives in RAM.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = Rdict(str(path), options=_options())

    def __getitem__(self, key: str) -> Any:
        value = self._db.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._db.get(key)
        return default if value is None else value

    def get_many(self, keys: list[str], default: Any = None) -> list[Any]:
        """The values of `keys` in order (`default` where missing), from one RocksDB multi-get."""
        return [default if value is None else value for value in self._db.get(keys)]

    def __setitem__(self, key: str, value: Any) -> None:
        self._db[key] = value

    def update(self, items: Mapping[str, Any] = (), /, **kwargs: Any) -> None:  # type: ignore[override]
        """Write many keys in one RocksDB batch: half the cost of one put each."""
        batch = WriteBatch()
        for key, value in dict(items, **kwargs).items():
            batch.put(key, value)
        self._db.write(batch)

    def __delitem__(self, key: str) -> None:
        if key not in self._db:
            raise KeyError(key)
        del self._db[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._db.keys())

    def __len__(self) -> int:
        return sum(1 for _ in self._db.keys())

    def clear(self) -> None:
        """Drop everything at once (faster than deleting key by key)."""
        self._db.close()
        Rdict.destroy(str(self.path))
        shutil.rmtree(self.path, ignore_errors=True)
        self._db = Rdict(str(self.path), options=_options())

    def close(self) -> None:
        self._db.close()
