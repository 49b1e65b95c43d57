"""Local RocksDB state that is derived, not durable: rebuilt from a changelogged table."""

import shutil
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from rocksdict import Rdict


class LocalMapping(MutableMapping):
    """A MutableMapping over one RocksDB directory (values pickled by rocksdict).

    Keeps memory flat for indexes as large as the retention window: only RocksDB's block
    cache lives in RAM.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = Rdict(str(path))

    def __getitem__(self, key: str) -> Any:
        value = self._db.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._db.get(key)
        return default if value is None else value

    def __setitem__(self, key: str, value: Any) -> None:
        self._db[key] = value

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
        self._db = Rdict(str(self.path))

    def close(self) -> None:
        self._db.close()
