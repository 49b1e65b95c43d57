import io
import json

import pytest

from service import codec
from service.cli.inputs import read_items
from service.errors import InputFileError
from tests.support.factories import make_article


def _jsonl(path, *lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_jsonl_sends_valid_lines_and_rejects_bad_ones_with_file_and_line(tmp_path):
    f = _jsonl(tmp_path / "a.jsonl", json.dumps(make_article(id="x1")), "{broken", "", json.dumps({"title": "t"}))
    items = list(read_items([str(f)]))
    sent = [i for i in items if i.error is None]
    rejected = [i for i in items if i.error is not None]
    assert [i.key for i in sent] == [b"x1"]
    assert [i.origin for i in rejected] == [f"{f}:2", f"{f}:4"]
    assert "not valid JSON" in rejected[0].error and "body" in rejected[1].error


def test_raw_mode_sends_lines_untouched(tmp_path):
    f = _jsonl(tmp_path / "a.jsonl", "{broken", "[1]")
    assert [i.value for i in read_items([str(f)], validate=False)] == [b"{broken", b"[1]"]


def test_json_array_and_source_override(tmp_path):
    f = tmp_path / "a.json"
    f.write_text(json.dumps([make_article(), make_article(source="orig.example")]))
    items = list(read_items([str(f)], source="override.example"))
    assert [codec.loads(i.value)["source"] for i in items] == ["override.example"] * 2
    assert items[1].origin == f"{f}[1]"


def test_txt_first_line_is_title(tmp_path):
    f = tmp_path / "story.txt"
    f.write_text("\n\nThe title\nFirst paragraph.\n\nSecond.\n")
    (item,) = read_items([str(f)])
    assert codec.loads(item.value) == {"title": "The title", "body": "First paragraph.\n\nSecond."}


def test_directories_are_read_recursively_in_order(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.txt").write_text("B\nbody")
    (tmp_path / "sub" / "a.txt").write_text("A\nbody")
    (tmp_path / "ignored.md").write_text("# no")
    titles = [codec.loads(i.value)["title"] for i in read_items([str(tmp_path)])]
    assert titles == ["B", "A"]


def test_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(make_article(id="s1")) + "\n"))
    assert [i.key for i in read_items(["-"])] == [b"s1"]


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        list(read_items([str(tmp_path / "nope.jsonl")]))


def test_project_seeds_are_all_valid():
    from tests.conftest import PROJECT_SEEDS

    items = list(read_items([str(PROJECT_SEEDS / "articles")]))
    assert len(items) >= 20 and all(i.error is None for i in items)
