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
