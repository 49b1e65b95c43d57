"""The tagger on a small KB written for the tests: one row per matching rule."""

import random
import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.core.tagging import KBError, Tagger, parse_entities, parse_themes, tables
from service.core.tagging.fold import CONTEXTUAL, bmp_table, fold

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


# --- the compiled scan -----------------------------------------------------------------------


def mentions(body: str, title: str = "", tagger: Tagger = TAGGER) -> list[tuple[str, int, int]]:
    return sorted((e["id"], m["start"], m["end"]) for e in tagger.tag(title, body).entities for m in e["mentions"])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Trump", [("Q22686", 0, 5)]),  # the whole text
        ("said Trump", [("Q22686", 5, 10)]),  # at the end
        ("Trump.", [("Q22686", 0, 5)]),
        ("xTrump Trumpx Trump2 2Trump", []),  # letters and digits glue words
        ("Trump_", [("Q22686", 0, 5)]),  # `_` folds to a separator: a word boundary
        ("«Trump»", [("Q22686", 1, 6)]),
        ("😀Trump😀", [("Q22686", 1, 6)]),  # a character beyond U+FFFF is one offset, and no letter
        ("ΟΔΟΣ Trump", [("Q22686", 5, 10)]),  # final sigma: folded in Python, same offsets
        ("İzmir and México", [("Q96", 10, 16)]),  # dotted capital I: folded in Python too
        ("Дональд Трамп в Москве; 特朗普", []),  # other scripts: no alias, no crash
        ("MÉXICO, méxico, Mexico", [("Q96", 0, 6), ("Q96", 8, 14), ("Q96", 16, 22)]),
        ("US us Us uS", [("Q30", 0, 2)]),  # case-exact aliases
        ("U.S. Navy and US Navy", [("org:navy", 0, 9), ("org:navy", 14, 21)]),
        ("   \n\t ", []),
    ],
)
def test_scan_edge_cases(body, expected):
    assert mentions(body) == expected


def test_a_very_long_text_finds_every_mention_at_the_right_offset():
    # Long enough for the scan's lanes, with names straddling every lane boundary somewhere.
    words = ["Trump", "said", "the", "Sinaloa", "Cartel", "in", "Mexico", "and", "Tren", "de", "Aragua"]
    rng = random.Random(3)
    body = " ".join(rng.choice(words) for _ in range(40_000))
    found = TAGGER.tag("", body).entities
    assert sum(len(e["mentions"]) for e in found) > 10_000
    for e in found:
        for m in e["mentions"]:
            assert body[m["start"]:m["end"]] == m["text"]
            assert (m["start"] == 0 or body[m["start"] - 1] == " ") and (m["end"] == len(body) or body[m["end"]] == " ")
    assert {e["id"] for e in found} == {"Q22686", "grp:sinaloa", "loc:sinaloa", "Q96", "grp:tda"}
    expected = sum(body.count(w) for w in ("Trump", "Mexico", "Tren de Aragua"))
    assert sum(len(e["mentions"]) for e in found if e["id"] in ("Q22686", "Q96", "grp:tda")) == expected


def test_more_matches_than_the_first_guess_of_room():
    body = "UN " * 20_000
    (entity,) = TAGGER.tag("", body).entities
    assert entity["count"] == 20_000 and entity["mentions"][-1]["start"] == len(body) - 3


def test_tags_do_not_depend_on_the_dense_table_budget(monkeypatch):
    # With a budget of a few states, nearly every step takes the failure-link path.
    rng = random.Random(5)
    pieces = ["Pete Hegseth", "Hegseth", "Sinaloa", "Sinaloa Cartel", "Cártel de Sinaloa", "US", "us", "Navy",
              "destroyer", "Gil", "canciller", "El Chapo", "ataque", "Tren de Aragua", "x", ",", ".", "\n"]
    texts = [" ".join(rng.choice(pieces) for _ in range(rng.randint(0, 800))) for _ in range(60)]
    monkeypatch.setattr(tables, "DENSE_BYTES", 64)
    sparse = Tagger(KB, THEMES)
    assert sparse._tables.states > 100
    for text in texts:
        assert sparse.tag(text[:50], text) == TAGGER.tag(text[:50], text)


WORDS = ["new", "york", "city", "of", "the", "ny", "nueva"]
SEPARATORS = [" ", "  ", ". ", "-", "\n\n", ", "]
CITY_KB = parse_entities({"entities": [
    {"id": "a", "name": "New York", "type": "LOCATION", "subtype": "city"},
    {"id": "b", "name": "New York City", "type": "LOCATION", "subtype": "city"},
    {"id": "c", "name": "York City", "type": "LOCATION", "subtype": "city"},
    {"id": "d", "name": "the city of York", "type": "LOCATION", "subtype": "city"},
    {"id": "e", "name": "Nueva York", "type": "LOCATION", "subtype": "city"},
    {"id": "f", "name": "Old Cities", "type": "LOCATION", "subtype": "x", "aliases": ["city-of-new"]},
]})
CITY_TAGGER = Tagger(CITY_KB)


def reference_mentions(text: str) -> list[tuple[str, int, int]]:
    """Brute force: every whole-word occurrence of every key, then leftmost-longest."""
    padded = " " + fold(text) + " "
    spans = {}
    for entity in CITY_KB:
        for alias in (entity.name, *entity.aliases):
            key = " " + fold(alias).strip() + " "
            at = padded.find(key)
            while at >= 0:
                spans.setdefault((at, at + len(key) - 2), entity.id)
                at = padded.find(key, at + 1)
    chosen, last_end = [], -1
    for (start, stop), ident in sorted(spans.items(), key=lambda s: (s[0][0], s[0][0] - s[0][1])):
        if start >= last_end:
            chosen.append((ident, start, stop))
            last_end = stop
    return sorted(chosen)


@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=3000), st.booleans())
def test_scan_matches_a_brute_force_search(pairs, capitalise):
    text = "".join((w.title() if capitalise else w) + s for w, s in pairs)
    assert mentions(text, tagger=CITY_TAGGER) == reference_mentions(text)


# The regex the unlinked-name scan replaced; the compiled scan must find the same names.
_UPPER, _LOWER = "A-ZÁÉÍÓÚÑÜ", "a-záéíóúñü"
UNLINKED_REGEX = re.compile(
    rf"[{_UPPER}][{_LOWER}]+(?: (?:(?:de|del|la|las|los|y|of|the|al) )*[{_UPPER}][{_LOWER}]+)+"
)
NAME_PARTS = ["Juan", "Pérez", "de", "del", "la", "las", "los", "y", "of", "the", "al", "Ana", "McDonald", "ÑU",
              "Óscar", "Ü", "x", "2", "US", "Ab", "dé", " ", " ", "  ", ".", "-", "\n", "é"]


@given(st.lists(st.sampled_from(NAME_PARTS), max_size=200).map(" ".join) | st.text(alphabet="AaBbÁá de\n.", max_size=200))
def test_unlinked_names_are_the_regex_matches(body):
    counts = Counter(m.group() for m in UNLINKED_REGEX.finditer(body) if not (m.start() and body[m.start() - 1].isalnum()))
    expected = [name for name, _ in counts.most_common(20)]
    assert Tagger([]).tag("", body).unlinked == expected


def test_the_fold_table_agrees_with_fold():
    table = bmp_table()
    wrong = [c for c in range(0x10000) if chr(c) not in CONTEXTUAL and table[c] != ord(fold(chr(c)))]
    assert wrong == []


def test_title_and_body_must_be_text():
    assert TAGGER.tag(None, "Trump").entities[0]["id"] == "Q22686"  # no title, as before
    with pytest.raises(TypeError):
        TAGGER.tag("Trump", None)


def test_aliases_with_characters_beyond_the_basic_plane_match():
    # Symbols are numbered by how common a letter is; the astral ones are looked up by code
    # point (a binary search), and keys are ordered by symbol for the trie.
    kb = parse_entities({"entities": [
        {"id": "x1", "name": "Grupo 𝔅𝔄", "type": "CRIMINAL_GROUP", "subtype": "gang"},
        {"id": "x2", "name": "𝔄lpha Force", "type": "ORGANIZATION", "subtype": "unit"},
        {"id": "x3", "name": "Zq 𝔇𝔅", "type": "ORGANIZATION", "subtype": "unit"},
    ]})
    tagger = Tagger(kb)
    body = "el Grupo 𝔅𝔄 y 𝔄lpha Force; zq 𝔇𝔅, no 𝔄𝔅 ni Grupo 𝔄𝔅"
    found = mentions(body, tagger=tagger)
    assert found == [("x1", 3, 11), ("x2", 14, 25), ("x3", 27, 32)]
    assert [body[start:stop] for _, start, stop in found] == ["Grupo 𝔅𝔄", "𝔄lpha Force", "zq 𝔇𝔅"]
