"""The curated KB against hand-written gold labels of the real articles in ../shared/seeds."""

from service.bench.tagging import articles, evaluation, generated_kb
from service.core.tagging import Tagger, load_entities, load_kb, load_themes
from service.knowledge import DEFAULT_KB, DEFAULT_THEMES


def test_curated_kb_meets_the_precision_and_recall_targets(shared_seeds):
    entities, stop_phrases = load_kb(DEFAULT_KB)
    report = evaluation(Tagger(entities, load_themes(DEFAULT_THEMES), stop_phrases))
    detail = f"false positives {report.false_positives}; missed {report.false_negatives}"
    assert report.precision >= 0.97, detail
    assert report.recall >= 0.95, detail


def test_curated_kb_has_the_coverage_the_domain_needs():
    entities = load_entities(DEFAULT_KB)
    assert len(entities) >= 300
    by_id = {e.id: e for e in entities}
    fto = {e.name for e in entities if any(d.list == "FTO" for d in e.designations)}
    assert len(fto) >= 8, fto
    assert {"PERSON", "ORGANIZATION", "CRIMINAL_GROUP", "LOCATION"} <= {e.type for e in entities}
    countries = [e for e in entities if e.attributes.get("country")]
    assert all(e.attributes["country"] in by_id for e in countries)


def test_theme_taxonomy_has_the_required_themes():
    ids = {t.id for t in load_themes(DEFAULT_THEMES)}
    assert {"military_action", "drug_trafficking", "terrorism_designation", "sovereignty_diplomacy",
            "migration_border", "violence_crime", "sanctions_legal"} <= ids


def test_a_100k_alias_kb_tags_the_real_articles_the_same_in_bounded_memory(shared_seeds):
    # The generated entities never occur in real text: the tags must not change, whatever
    # the automaton's size (its dense rows stop at a budget; deeper states are compact).
    entities, stop_phrases = load_kb(DEFAULT_KB)
    themes = load_themes(DEFAULT_THEMES)
    curated, large = Tagger(entities, themes, stop_phrases), Tagger(generated_kb(entities, 100_000), themes, stop_phrases)
    assert large.alias_count > 100_000
    assert large.automaton_bytes < 300 << 20
    for title, body in articles():
        assert large.tag(title, body) == curated.tag(title, body)
