import pytest

from service.local_state import LocalMapping


def test_local_mapping_behaves_like_a_dict(tmp_path):
    m = LocalMapping(tmp_path / "db")
    m["a"] = [1, "x"]
    m["b"] = {"k": 2}
    assert m["a"] == [1, "x"] and m.get("zz") is None and m.get("zz", 5) == 5
    assert sorted(m) == ["a", "b"] and len(m) == 2
    assert m.pop("a") == [1, "x"] and m.pop("a", None) is None
    with pytest.raises(KeyError):
        del m["a"]
    m.clear()
    assert len(m) == 0 and m.get("b") is None
    m["c"] = 3
    m.close()
    assert LocalMapping(tmp_path / "db")["c"] == 3


def test_get_many_reads_keys_in_order_with_a_default(tmp_path):
    m = LocalMapping(tmp_path / "db")
    m.update({"a": ("x",), "c": 3})
    assert m.get_many(["c", "missing", "a", "c"], ()) == [3, (), ("x",), 3]
    assert m.get_many([], None) == []


def _decisions(make_store, retention_seconds: int) -> tuple[list, dict]:
    import json

    from service.core.dedup import DedupConfig, DedupIndex, fingerprint
    from service.generate import Generator

    config = DedupConfig(retention_seconds=retention_seconds)
    index = DedupIndex(make_store("buckets"), {}, make_store("exact"), make_store("times"), config)
    decisions = []
    for n, message in enumerate(Generator(400, dup_rate=0.4, invalid_rate=0.0, seed=5).messages()):
        article = json.loads(message.value)
        # Every fifth article repeats an earlier URL: exact matches by URL as well as by text.
        url = f"https://example.org/{n - n % 5 if n % 5 == 4 else n}"
        now = n * 600.0  # ten minutes apart: the short retention expires stories mid-run
        decisions.append(index.check_and_insert(fingerprint(f"g{n}", article["body"], url, config), now))
        index.expire(now)
    return decisions, {"exact": len(index.exact), "times": len(index.times)}


@pytest.mark.parametrize("retention_seconds", [30 * 86400, 12 * 3600])
def test_the_dedup_index_decides_the_same_over_rocksdb_as_over_dicts(tmp_path, retention_seconds):
    # The worker keeps the derived lookups in LocalMapping (multi-gets, batched writes); the
    # unit tests and the core loop in dicts.
    on_disk = _decisions(lambda name: LocalMapping(tmp_path / name), retention_seconds)
    in_memory = _decisions(lambda name: {}, retention_seconds)
    assert on_disk == in_memory
    decisions = in_memory[0]
    assert sum(d.kind == "near" for d in decisions) > 30 and sum(d.kind == "exact" for d in decisions) > 30
