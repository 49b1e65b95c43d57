from service import codec
from service.cli.render import describe


def test_enriched_lines_show_entities_and_themes():
    event = {"id": "a", "source": "s.example", "title": "T", "body": "b",
             "entities": [{"name": "Tren de Aragua"}, {"name": "Caribbean Sea"}], "themes": [{"id": "military_action"}]}
    line = describe(codec.dumps(event))
    assert "a  s.example  T" in line and "Tren de Aragua, Caribbean Sea" in line and "military_action" in line


def test_dead_letters_duplicates_and_garbage_are_described():
    assert "DEAD LETTER not_json" in describe(codec.dumps({"id": "x", "error": {"code": "not_json", "message": "m"}}))
    assert "near duplicate of o (0.90)" in describe(codec.dumps({"id": "c", "duplicate_of": "o", "kind": "near", "similarity": 0.9}))
    assert describe(b"\\xff not json") and describe(None) == "(no value)"
