"""The tagger on a small KB written for the tests: one row per matching rule."""

import pytest

from service.core.tagging import KBError, Tagger, parse_entities, parse_themes

KB = parse_entities(
    {
        "entities": [
            {"id": "Q22686", "name": "Donald Trump", "type": "PERSON", "subtype": "head_of_state",
             "aliases": ["Trump", "President Trump"]},
            {"id": "Q30", "name": "United States", "type": "LOCATION", "subtype": "country",
             "aliases": ["US", "U.S.", "USA", "Estados Unidos", "EE.UU."]},
            {"id": "Q96", "name": "Mexico", "type": "LOCATION", "subtype": "country", "aliases": ["México"]},
            {"id": "Q1", "name": "United Nations", "type": "ORGANIZATION", "subtype": "international_org",
             "aliases": ["UN", "Naciones Unidas"]},
            {"id": "loc:sinaloa", "name": "Sinaloa", "type": "LOCATION", "subtype": "state"},
            {"id": "grp:sinaloa", "name": "Sinaloa Cartel", "type": "CRIMINAL_GROUP", "subtype": "cartel",
             "aliases": ["Cártel de Sinaloa"], "designations": [{"list": "FTO", "effective": "2025-02-20"}]},
            {"id": "grp:tda", "name": "Tren de Aragua", "type": "CRIMINAL_GROUP", "subtype": "gang",
             "aliases": ["TdA"]},
            {"id": "org:navy", "name": "United States Navy", "type": "ORGANIZATION", "subtype": "military_branch",
             "aliases": ["U.S. Navy", "US Navy"], "weak_aliases": ["Navy"], "context": ["destroyer", "Pentagon"]},
            {"id": "p:gil", "name": "Yván Gil", "type": "PERSON", "subtype": "minister",
             "weak_aliases": ["Gil"], "context": ["foreign minister", "canciller"]},
            {"id": "p:hegseth", "name": "Pete Hegseth", "type": "PERSON", "subtype": "minister"},
            {"id": "p:guzman-j", "name": "Joaquín Guzmán", "type": "PERSON", "subtype": "cartel_leader",
             "aliases": ["El Chapo"]},
        ]
    }
)
THEMES = parse_themes(
    {"themes": [
        {"id": "military_action", "name": "Military", "phrases": {"en": ["airstrike", "destroyer"], "es": ["ataque"]}},
        {"id": "terrorism_designation", "name": "FTO", "phrases": {"en": ["foreign terrorist organization"]}},
    ]}
)
TAGGER = Tagger(KB, THEMES)


def ids(body: str, title: str = "") -> list[str]:
    return sorted(e["id"] for e in TAGGER.tag(title, body).entities)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Trump spoke.", ["Q22686"]),
        ("Trump's order came late.", ["Q22686"]),  # possessive
        ("Trump’s order came late.", ["Q22686"]),  # typographic apostrophe
        ("The Trump administration said.", ["Q22686"]),
        ("Trumpism is not a person.", []),  # word boundary
        ("Officials in the US and the USA.", ["Q30"]),
        ("Let us meet; they told us.", []),  # `us` is not `US`
        ("The UN said; the sun is up; un ataque.", ["Q1"]),  # case-exact short alias
        ("Tren de Aragua, also TdA.", ["grp:tda"]),
        ("tda is lower case.", []),
        ("The Sinaloa Cartel operates.", ["grp:sinaloa"]),  # longest match wins
        ("Violence in Sinaloa rose.", ["loc:sinaloa"]),  # the state alone
        ("El cártel de sinaloa opera.", ["grp:sinaloa"]),  # accent and case folded
        ("CARTEL DE SINALOA en mayúsculas.", ["grp:sinaloa"]),
        ("Mexican authorities said.", []),  # demonym is not the country
        ("Authorities in Mexico and México.", ["Q96"]),
        ("The Navy declined to comment.", []),  # weak alias without context
        ("The Navy sent a destroyer.", ["org:navy"]),  # weak alias with context
        ("The US Navy sent ships; the Navy said.", ["org:navy"]),  # longest match, then weak via strong
        ("Gil said nothing.", []),
        ("Foreign minister Gil said.", ["p:gil"]),
        ("Hegseth spoke.", []),  # surname alone, no full name
        ("Pete Hegseth arrived. Later Hegseth spoke.", ["p:hegseth"]),
        ("El Chapo was sentenced.", ["p:guzman-j"]),
        ("Estados Unidos y EE.UU. son lo mismo.", ["Q30"]),
        ("", []),
    ],
)
def test_linking_rules(body, expected):
    assert ids(body) == expected


def test_mentions_have_offsets_into_the_body_and_counts():
    body = "Pete Hegseth said. Hegseth's aides agreed. The Sinaloa Cartel."
    entities = {e["id"]: e for e in TAGGER.tag("Hegseth visits", body).entities}
    hegseth = entities["p:hegseth"]
    assert [(m["start"], m["end"], m["text"]) for m in hegseth["mentions"]] == [(0, 12, "Pete Hegseth"), (19, 26, "Hegseth")]
    assert all(body[m["start"]:m["end"]] == m["text"] for e in entities.values() for m in e["mentions"])
    assert hegseth["in_title"] and hegseth["count"] == 3
    assert entities["grp:sinaloa"]["designations"] == [{"list": "FTO", "effective": "2025-02-20"}]


def test_accents_do_not_shift_offsets():
    body = "Ñandú. Él dijo: el Cártel de Sinaloa."
    (entity,) = TAGGER.tag("", body).entities
    (mention,) = entity["mentions"]
    assert body[mention["start"]:mention["end"]] == "Cártel de Sinaloa"


def test_themes_score_and_count_hits():
    tags = TAGGER.tag("Airstrike on a boat", "A destroyer fired. Otro ataque. The foreign terrorist organization.")
    themes = {t["id"]: t for t in tags.themes}
    assert themes["military_action"]["hits"] == 3 and themes["terrorism_designation"]["hits"] == 1
    assert themes["military_action"]["score"] > themes["terrorism_designation"]["score"]
    assert [t["id"] for t in tags.themes][0] == "military_action"


def test_unlinked_names_are_capitalised_names_not_in_the_kb():
    tags = TAGGER.tag("", "Trump met Claudia Ramírez Oliva and Juan de la Cruz in Mexico City. The Sinaloa Cartel.")
    assert "Claudia Ramírez Oliva" in tags.unlinked and "Juan de la Cruz" in tags.unlinked
    assert not any("Sinaloa" in name for name in tags.unlinked)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"entities": [{"id": "x", "name": "X", "type": "PLANET", "subtype": "s"}]}, "type"),
        ({"entities": [{"id": "x", "type": "PERSON", "subtype": "s"}]}, "name"),
        ({"entities": [{"id": "x", "name": "X", "type": "PERSON", "subtype": "s"}] * 2}, "duplicate id"),
        ({"entities": "not a list"}, "expected a list"),
        ([{"id": "x", "name": "X", "type": "PERSON", "subtype": "s", "surprise": 1}], "surprise"),
        ({"entities": [{"id": "x", "name": "X", "type": "PERSON", "subtype": "s", "aliases": ["a" * 500]}]}, "200"),
    ],
)
def test_bad_knowledge_bases_are_rejected_with_the_item_and_field(data, message):
    with pytest.raises(KBError, match=message):
        parse_entities(data)


def test_kb_files_in_each_format_load_the_same(tmp_path):
    import json

    import yaml

    from service.core.tagging import load_entities

    items = [{"id": "x", "name": "Xavier Ortiz", "type": "PERSON", "subtype": "official", "aliases": ["X. Ortiz"]}]
    (tmp_path / "kb.yaml").write_text(yaml.safe_dump({"entities": items}))
    (tmp_path / "kb.json").write_text(json.dumps(items))
    (tmp_path / "kb.jsonl").write_text("\n".join(json.dumps(i) for i in items))
    loaded = [load_entities(tmp_path / f"kb.{ext}") for ext in ("yaml", "json", "jsonl")]
    assert loaded[0] == loaded[1] == loaded[2]
    (tmp_path / "bad.yaml").write_text("entities: [unclosed")
    with pytest.raises(KBError, match="bad.yaml"):
        load_entities(tmp_path / "bad.yaml")
