"""The profile summary: py-spy's raw stacks sorted into categories by their innermost known frame."""

import pytest

from service.bench import profile

RAW = """\
<module> (service/__main__.py:3);run (asyncio/base_events.py:1);ingest_articles (/x/service/agents/ingest.py:80);normalize_text (/x/service/core/normalize.py:130) 50
<module> (service/__main__.py:3);decide (/x/service/core/dedup_stage.py:40);get (/x/service/local_state.py:45) 30
<module> (service/__main__.py:3);send (/v/site-packages/aiokafka/producer/producer.py:500);write (/p/lib/python3.11/asyncio/selector_events.py:1057) 15
<module> (service/__main__.py:3);mystery (/somewhere/else.py:1) 5
garbage line without a count
"""


def test_samples_are_filed_under_their_innermost_known_frame():
    summary = profile.summarise(RAW)
    assert summary["samples"] == 100
    shares = summary["categories"]
    assert shares["core (normalise, fingerprint, tag, rules, decide)"] == pytest.approx(0.5)
    assert shares["state stores (RocksDB, Faust tables)"] == pytest.approx(0.3)
    # The socket write sits under aiokafka's send: the asyncio frame is innermost, so it counts as
    # the event loop's, which is where its CPU went.
    assert shares["asyncio event loop and sockets"] == pytest.approx(0.15)
    assert shares[profile.OTHER] == pytest.approx(0.05)
    assert list(shares) == sorted(shares, key=shares.get, reverse=True)
    assert summary["top_functions"][0] == ["normalize_text (service/core/normalize.py)", 0.5]


def test_no_samples_give_an_empty_summary():
    assert profile.summarise("") == {"samples": 0, "categories": {}, "top_functions": []}


def test_py_spy_is_found_where_the_project_installs_it():
    # A test dependency of the project (pyproject.toml), installed beside this Python.
    assert profile.available() is not None
