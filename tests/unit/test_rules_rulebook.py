"""Which published rules file workers end up running: the last one that parses."""

import pytest

from service.core.rules import parse_rules
from service.rulebook import latest_valid


def rules_file(rule_id: str) -> bytes:
    text = f"rules:\n  - id: {rule_id}\n    name: R\n    severity: info\n    when:\n      all: [{{keyword: x}}]\n"
    return text.encode()


def parse(text: str):
    return parse_rules(text, lambda ref: ref)


BAD_YAML, BAD_RULE, NOT_UTF8 = b"rules: [unclosed", b"rules:\n  - id: x\n", b"\xff\xfe"


@pytest.mark.parametrize("records,expected", [
    ([], None),
    ([(0, 5, None)], None),
    ([(0, 5, BAD_YAML), (1, 6, NOT_UTF8)], None),
    ([(0, 5, rules_file("a"))], ("a", 0, 5, 0)),
    ([(0, 5, rules_file("a")), (1, 6, rules_file("b"))], ("b", 1, 6, 0)),
    ([(0, 5, rules_file("a")), (1, 6, BAD_YAML), (2, 7, BAD_RULE), (3, 8, NOT_UTF8)], ("a", 0, 5, 3)),
    ([(0, 5, BAD_YAML), (1, 6, rules_file("b")), (2, 7, None)], ("b", 1, 6, 0)),
    ([(0, 5, rules_file("a")), (1, 6, BAD_YAML), (2, 7, rules_file("c"))], ("c", 2, 7, 0)),
], ids=["empty", "tombstone", "none-parse", "one", "latest-wins", "rejected-after", "tombstone-ignored",
        "good-after-bad"])
def test_latest_valid_is_what_a_worker_following_the_topic_runs(records, expected):
    found = latest_valid(records, parse)
    if expected is None:
        assert found is None
    else:
        rule_id, offset, timestamp_ms, rejected = expected
        assert ([r.id for r in found.rules], found.offset, found.timestamp_ms, found.rejected_after) == (
            [rule_id], offset, timestamp_ms, rejected)
