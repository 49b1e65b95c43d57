"""`newsflow generate`: seeded, the promised mix, ground truth the pipeline agrees with."""

import io
from collections import Counter

import pytest

from service import codec
from service.cli.inputs import read_items
from service.core.dedup import DEFAULT_CONFIG, DedupIndex, fingerprint
from service.core.ingest import Limits, Rejected, parse_raw
from service.core.normalize import normalize_body
from service.generate import Generator, write_jsonl


def messages(count=2000, dup_rate=0.3, invalid_rate=0.05, seed=3):
    return list(Generator(count, dup_rate, invalid_rate, seed).messages())


def test_same_seed_same_bytes_other_seed_other_bytes():
    assert [m.value for m in messages(200)] == [m.value for m in messages(200)]
    assert [m.value for m in messages(200)] != [m.value for m in messages(200, seed=4)]


def test_rates_are_respected():
    labels = Counter(m.label for m in messages(4000))
    assert 0.04 < labels["invalid"] / 4000 < 0.06
    assert 0.27 < labels["reprint"] / 4000 < 0.33
    assert labels["original"] + labels["reprint"] + labels["invalid"] == 4000


@pytest.mark.parametrize("dup_rate, invalid_rate", [(-0.1, 0.0), (0.5, 0.5), (0.2, 1.0)])
def test_bad_rates_are_refused(dup_rate, invalid_rate):
    with pytest.raises(ValueError, match="dup_rate"):
        Generator(10, dup_rate, invalid_rate)


def test_reprints_follow_their_original_and_ids_are_unique():
    seen_groups = set()
    ids = []
    for m in messages():
        if m.label == "original":
            seen_groups.add(m.group)
        elif m.label == "reprint":
            assert m.group in seen_groups
        ids.append(m.key)
    assert len(set(ids)) == len(ids)


def test_each_invalid_message_gets_the_dead_letter_code_it_promises():
    codes = Counter()
    for m in messages():
        if m.label == "invalid":
            with pytest.raises(Rejected) as caught:
                parse_raw(m.value, Limits())
            assert caught.value.detail.code == m.recipe
            codes[m.recipe] += 1
        else:
            article = parse_raw(m.value, Limits())
            assert codec.loads(m.value)["metadata"]["generated"]["label"] == m.label
            assert len(article.body.split()) >= 20
    assert set(codes) == {"not_json", "not_utf8", "missing_body", "empty_body", "invalid_fields"}


def test_the_dedup_core_agrees_with_the_ground_truth():
    """Originals must not look like copies of each other (the sentence bank is small), and
    reprints must be found under their own original."""
    index = DedupIndex({}, {}, {}, {}, DEFAULT_CONFIG)
    group_of, outcome = {}, Counter()
    for n, m in enumerate(messages(3000)):
        if m.label == "invalid":
            continue
        doc = codec.loads(m.value)
        body, _ = normalize_body(doc["body"])
        decision = index.check_and_insert(fingerprint(doc["id"], body, None), 1.75e9 + n)
        group_of[doc["id"]] = m.group
        if m.label == "original":
            outcome["original " + decision.status] += 1
        elif decision.status == "duplicate":
            outcome["reprint found" if group_of[decision.duplicate_of] == m.group else "reprint misfiled"] += 1
        else:
            outcome["reprint missed"] += 1
    assert outcome["original duplicate"] <= 0.005 * outcome["original unique"], outcome
    assert outcome["reprint misfiled"] == 0, outcome
    assert outcome["reprint found"] >= 0.97 * (outcome["reprint found"] + outcome["reprint missed"]), outcome


def test_jsonl_round_trips_through_push_raw(tmp_path):
    generated = messages(300, invalid_rate=0.2)
    path = tmp_path / "gen.jsonl"
    with open(path, "wb") as f:
        assert write_jsonl(iter(generated), f) == 300
    assert [item.value for item in read_items([str(path)], validate=False)] == [m.value for m in generated]
    buffer = io.BytesIO()
    write_jsonl(iter(generated[:5]), buffer)
    assert buffer.getvalue().count(b"\n") == 5
