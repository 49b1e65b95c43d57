"""Turn the paths given to `newsflow push` into messages, each with where it came from."""

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from service import codec
from service.errors import InputFileError
from service.schemas.article import RawArticle

SUFFIXES = (".jsonl", ".ndjson", ".json", ".txt")


@dataclass(frozen=True)
class Item:
    """One message to send, or a local reject (`error` set, `value` None)."""

    origin: str
    value: bytes | None
    key: bytes | None = None
    error: str | None = None
    timestamp_ms: int | None = None


def expand(paths: list[str]) -> Iterator[str]:
    """Files in the order given; directories recursively, sorted; `-` for stdin."""
    for p in paths:
        if p == "-":
            yield p
            continue
        path = Path(p)
        if path.is_dir():
            yield from (str(f) for f in sorted(path.rglob("*")) if f.is_file() and f.suffix in SUFFIXES)
        elif path.is_file():
            yield str(path)
        else:
            raise InputFileError(f"{p}: no such file or directory")


def _article_item(origin: str, obj: object, source: str | None, validate: bool) -> Item:
    if validate:
        if not isinstance(obj, dict):
            return Item(origin, None, error=f"expected a JSON object, got {type(obj).__name__}")
        if source:
            obj = {**obj, "source": source}
        try:
            RawArticle.model_validate(obj)
        except ValidationError as e:
            first = e.errors(include_url=False)[0]
            where = ".".join(map(str, first["loc"])) or "(root)"
            return Item(origin, None, error=f"{where}: {first['msg']}")
    key = obj.get("id") if isinstance(obj, dict) else None
    return Item(origin, codec.dumps(obj), key.encode() if isinstance(key, str) and key else None)


def _lines(path: str) -> Iterator[tuple[int, str]]:
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="surrogateescape")
    try:
        yield from enumerate(stream, 1)
    finally:
        if stream is not sys.stdin:
            stream.close()


def read_jsonl(path: str, source: str | None, validate: bool) -> Iterator[Item]:
    for lineno, line in _lines(path):
        origin = f"{path}:{lineno}"
        if not line.strip():
            continue
        if not validate:
            yield Item(origin, line.rstrip("\n").encode("utf-8", "surrogateescape"))
            continue
        try:
            obj = codec.loads(line.encode("utf-8", "surrogateescape"))
        except codec.JSONDecodeError as e:
            yield Item(origin, None, error=f"not valid JSON: {e}")
            continue
        yield _article_item(origin, obj, source, validate)


def read_json(path: str, source: str | None, validate: bool) -> Iterator[Item]:
    try:
        data = codec.loads(Path(path).read_bytes())
    except codec.JSONDecodeError as e:
        yield Item(f"{path}:1", None, error=f"not valid JSON: {e}")
        return
    for i, obj in enumerate(data if isinstance(data, list) else [data]):
        yield _article_item(f"{path}[{i}]", obj, source, validate)


def read_txt(path: str, source: str | None, validate: bool) -> Iterator[Item]:
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    lines = text.strip().splitlines()
    if not lines:
        yield Item(f"{path}:1", None, error="empty file")
        return
    obj = {"title": lines[0].strip(), "body": "\n".join(lines[1:]).strip() or lines[0].strip()}
    if source:
        obj["source"] = source
    yield _article_item(f"{path}:1", obj, None, validate)


def read_items(paths: list[str], source: str | None = None, validate: bool = True) -> Iterator[Item]:
    """Every message from every path. `validate=False` sends lines and objects as they are."""
    for path in expand(paths):
        try:
            if path == "-" or path.endswith((".jsonl", ".ndjson")):
                yield from read_jsonl(path, source, validate)
            elif path.endswith(".json"):
                yield from read_json(path, source, validate)
            else:
                yield from read_txt(path, source, validate)
        except OSError as e:
            raise InputFileError(f"{path}: {e.strerror or e}") from e
