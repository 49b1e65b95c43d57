"""The tight-loop pipeline and its stock-library reference, on generated messages."""

from collections import Counter

import pytest

from service import codec
from service.bench import core_loop
from service.core.loop import Pipeline
from service.generate import Generator


@pytest.fixture(scope="module")
def stages():
    return core_loop.stages()


@pytest.fixture(scope="module")
def messages():
    return list(Generator(300, dup_rate=0.3, invalid_rate=0.1, seed=5).messages())


def filed(messages, outputs):
    """Per message: (generator label, outcome topic, whether the outcome is the right one)."""
    original_id, rows = {}, []
    for m, out in zip(messages, outputs):
        topic, _, value = out[0]
        record = codec.loads(value)
        if m.label == "original":
            original_id[m.group] = record["id"]
            right = topic == "enriched" and record["dedup"] == {"status": "unique"}
        elif m.label == "reprint":
            right = topic == "duplicates" and record["duplicate_of"] == original_id[m.group]
        else:
            right = topic == "invalid" and record["error"]["code"] == m.recipe
        rows.append((m.label, topic, right))
    return rows


def test_the_core_loop_files_each_message_as_the_worker_would(stages, messages):
    tagger, rules, *_ = stages
    _, outputs = core_loop.stream(Pipeline.in_memory(tagger, rules).process, messages)
    rows = filed(messages, outputs)
    assert Counter(label for label, _, _ in rows) == Counter(m.label for m in messages)
    assert all(right for _, _, right in rows), [r for r in rows if not r[2]]
    # Alert events follow the outcome they come from; the shipped rules fire on generated news.
    assert all(out[0].topic != "alerts" and all(o.topic == "alerts" for o in out[1:]) for out in outputs)
    assert sum(len(out) - 1 for out in outputs) > 0
    assert core_loop.dedup_scores(messages, outputs)["f1"] == 1.0


def test_the_reference_files_invalid_and_originals_alike_and_finds_most_reprints(stages, messages):
    tagger, rules, entities, themes, stop = stages
    reference = core_loop.ReferencePipeline(core_loop.FlashtextTagger(entities, themes, stop), rules, threshold=0.3)
    _, outputs = core_loop.stream(reference.process, messages)
    rows = filed(messages, outputs)
    assert all(right for label, _, right in rows if label != "reprint")
    reprints = [right for label, _, right in rows if label == "reprint"]
    assert sum(reprints) >= 0.9 * len(reprints)


def test_the_lsh_reference_index_keeps_the_first_seen_root():
    index = core_loop.LSHIndex(threshold=0.5, num_perm=64)
    text = " ".join(f"word{i}" for i in range(200))
    decisions = [index.file(article_id, core_loop.minhash(body, core_loop.DEFAULT_CONFIG)) for article_id, body in
                 (("a", text), ("b", text + " extra words at the end"), ("c", "something else entirely " * 20))]
    assert [d.status for d in decisions] == ["unique", "duplicate", "unique"]
    assert decisions[1].duplicate_of == "a"


def test_the_flashtext_reference_links_like_the_kb_says(stages):
    _, _, entities, themes, stop = stages
    tagger = core_loop.FlashtextTagger(entities, themes, stop)
    person = next(e for e in entities if e.type == "PERSON" and e.weak_aliases)
    weak = person.weak_aliases[0]
    alone = tagger.tag("", f"Yesterday {weak} was mentioned in passing.")
    assert person.id not in {e["id"] for e in alone.entities}
    both = tagger.tag(person.name, f"Later {weak} spoke again.")
    [found] = [e for e in both.entities if e["id"] == person.id]
    assert found["in_title"] and found["count"] == 2 and found["mentions"][0]["text"] == weak


def test_scores_compare_roots_with_stories(messages):
    outputs = [[core_loop.Output("invalid", None, b"{}")] if m.label == "invalid" else
               [core_loop.Output("enriched", None, codec.dumps({"id": f"x{n}"}))] for n, m in enumerate(messages)]
    scores = core_loop.dedup_scores(messages, outputs)
    # Every article its own root: nothing predicted, so precision is vacuous and recall is 0.
    assert scores["recall"] == 0.0


def test_stage_run_takes_turns_and_each_side_files_every_article_once_in_order(stages, messages, monkeypatch):
    """Turns of STAGE_TURN articles: each side keeps its own state across turns and sees the
    articles in order, numbered as in one pass; every round starts from fresh state."""
    tagger, rules, entities, themes, stop = stages
    filed_by: dict[str, list[list[int]]] = {"core": [], "reference": []}

    def recorder(side):
        def make(*args):
            numbers: list[int] = []
            filed_by[side].append(numbers)
            return lambda article, n: numbers.append(n)
        return make

    monkeypatch.setattr(core_loop, "_ours", recorder("core"))
    monkeypatch.setattr(core_loop, "_theirs", recorder("reference"))
    monkeypatch.setattr(core_loop, "STAGE_TURN", 40)
    flash = core_loop.FlashtextTagger(entities, themes, stop)
    result = core_loop.stage_run(messages, tagger, flash, threshold=0.3, rounds=2)
    articles = result["articles"]
    assert 250 <= articles < 300 and result["turn"] == 40
    for side in ("core", "reference"):
        warm_up, *rounds = filed_by[side]
        assert warm_up == list(range(40))
        assert rounds == [list(range(articles))] * 2
        assert len(result[side]["round_seconds"]) == 2 and result[side]["articles_per_second"] > 0


def test_stage_rounds_run_with_the_harness_out_of_the_collector_s_view(stages, messages, monkeypatch):
    """Full collections during a timed turn must not scan what the harness holds (they are
    charged to whichever side triggers them); the warm-up is untimed and the heap is restored."""
    import gc

    tagger, rules, entities, themes, stop = stages
    frozen_at: dict[str, list[int]] = {"core": [], "reference": []}

    def recorder(side):
        def make(*args):
            return lambda article, n: frozen_at[side].append(gc.get_freeze_count())
        return make

    monkeypatch.setattr(core_loop, "_ours", recorder("core"))
    monkeypatch.setattr(core_loop, "_theirs", recorder("reference"))
    monkeypatch.setattr(core_loop, "STAGE_TURN", 40)
    held = [[] for _ in range(1000)]  # tracked objects, as the suite's live ones
    flash = core_loop.FlashtextTagger(entities, themes, stop)
    result = core_loop.stage_run(messages, tagger, flash, threshold=0.3, rounds=2)
    for side in ("core", "reference"):
        warm_up, timed = frozen_at[side][:40], frozen_at[side][40:]
        assert len(timed) == 2 * result["articles"]
        assert set(warm_up) == {0} and min(timed) > len(held)
    assert gc.get_freeze_count() == 0


def test_harness_frozen_unfreezes_when_the_timed_code_raises():
    import gc

    with pytest.raises(ZeroDivisionError):
        with core_loop.harness_frozen():
            assert gc.get_freeze_count() > 0
            1 / 0
    assert gc.get_freeze_count() == 0
