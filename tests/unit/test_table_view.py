"""TableView over a real Faust table with a RocksDB store: one store read per key."""

import faust
import pytest
from faust.types import TP

from service.table_view import TableView


class CountingDB:
    """A RocksDB handle that counts the reads made through it."""

    def __init__(self, db) -> None:
        self.db, self.gets, self.keys_read = db, 0, 0

    def get(self, key, *args):
        self.gets += 1
        self.keys_read += len(key) if isinstance(key, list) else 1
        return self.db.get(key, *args)

    def __getattr__(self, name):
        return getattr(self.db, name)


@pytest.fixture
def table(tmp_path, monkeypatch):
    app = faust.App("table-view-test", store="rocksdb://", datadir=str(tmp_path))
    table = app.Table("docs", partitions=1, schema=faust.Schema(key_serializer="json", value_serializer="json"))
    # Faust lists the keys of the partitions this worker is active for: here, the one partition.
    monkeypatch.setattr(app.assignor, "assigned_actives", lambda: {TP(table.changelog_topic_name, 0)})
    store = table.data
    db = store._db_for_partition(0)
    # As recovery from the changelog leaves it.
    for key, value in {"a": {"n": 1}, "b": {"n": 2}, "c": [3, "x"]}.items():
        db.put(store._encode_key(key), store._encode_value(value))
    store._dbs[0] = counting = CountingDB(db)
    table.counting = counting
    yield table
    store._dbs.clear()
    db.close()


def test_a_read_is_one_store_read(table):
    view = TableView(table)
    assert view.get("a") == {"n": 1}
    assert table.counting.gets == 1
    assert view.get("missing") is None and view.get("missing", 7) == 7
    assert view["c"] == [3, "x"]
    with pytest.raises(KeyError):
        view["missing"]
    # Misses cost no read here: the bloom filter answers them.
    assert table.counting.gets == 2
    # What the view saves: the table itself asks the store whether it holds a key, then reads it.
    table.counting.gets = 0
    assert table.get("a") == {"n": 1}
    assert table.counting.gets == 2


def test_get_many_is_one_multi_get_in_order(table):
    view = TableView(table)
    assert view.get_many(["c", "missing", "a"], default=()) == [[3, "x"], (), {"n": 1}]
    assert (table.counting.gets, table.counting.keys_read) == (1, 3)
    assert view.get_many([]) == []


def test_iteration_walks_the_store(table):
    view = TableView(table)
    assert sorted(view) == ["a", "b", "c"] and len(view) == 3 and "b" in view and "z" not in view
    table.counting.gets = 0
    assert dict(view.items()) == {"a": {"n": 1}, "b": {"n": 2}, "c": [3, "x"]}
    assert sorted(map(str, view.values())) == sorted(map(str, [{"n": 1}, {"n": 2}, [3, "x"]]))
    assert table.counting.gets == 0  # walked with an iterator, not read key by key


class RecordingTable:
    """Stands in for the Faust table, whose writes need a running app to reach the changelog."""

    def __init__(self, data) -> None:
        self.data, self.written = data, []

    def __setitem__(self, key, value) -> None:
        self.written.append(("set", key, value))

    def __delitem__(self, key) -> None:
        self.written.append(("del", key))


def test_writes_and_deletes_go_through_the_table_not_the_store(table):
    recording = RecordingTable(table.data)
    view = TableView(recording)
    view["d"] = {"n": 4}
    del view["a"]
    assert view.pop("b") == {"n": 2}
    assert recording.written == [("set", "d", {"n": 4}), ("del", "a"), ("del", "b")]
    assert "d" not in view and "a" in view  # the store saw none of them


def test_a_table_kept_in_memory_reads_the_same():
    app = faust.App("table-view-memory-test", store="memory://")
    table = app.Table("docs", partitions=1)
    table.data.update({"a": {"n": 1}, "b": [2]})
    view = TableView(table)
    assert view.get("a") == {"n": 1} and view.get("z", 0) == 0 and view["b"] == [2]
    assert view.get_many(["b", "z", "a"], default=()) == [[2], (), {"n": 1}]
