"""`newsflow bench` end to end at a tiny scale on the test broker: every measurement runs, on
real worker processes, and the report is written. The numbers themselves are the command's
business (benchmarks are never timed tests); this checks that the command can produce them."""

import json

import pytest

from service.bench import report, suite

# The profiled drain gets a few seconds of work: at 300 messages (under a second, py-spy
# attaching meanwhile) a CI run caught too few samples for any to land in the core.
PROFILED = 2_000
TINY = suite.Scale(backlog=400, rss_at=(100, 400), core_messages=120, rounds=1, latency_seconds=3,
                   profile_messages=PROFILED)


def test_the_suite_measures_everything_and_writes_its_report(settings_factory, tmp_path, monkeypatch):
    monkeypatch.setattr(suite, "QUICK", TINY)
    out = tmp_path / "run"
    result = suite.run(settings_factory(), quick=True, out=out, command="newsflow bench --quick")

    core = result["core"]
    assert core["core"]["articles_per_second"] > 0 and core["reference"]["articles_per_second"] > 0
    assert core["stages"]["articles"] > 100 and core["stages"]["speedup"] > 0
    worker = result["worker"]
    assert worker["articles"] >= 400 and sum(worker["outcomes"].values()) == 400
    assert worker["cpu_ms_per_article"] > 0
    assert set(worker["rss_mb"]) == {"100", "400"}
    assert result["passthrough"]["complete"]
    hop = result["faust_hop"]
    assert hop["complete"] and hop["messages"] == 400 and hop["cpu_ms_per_message"] > 0
    assert result["latency"]["received"] == result["latency"]["sent"] > 0
    spans = result["latency"]["windows"]
    assert sum(w["count"] for w in spans) == result["latency"]["received"]
    assert all(0 <= w["worker_p50"] <= w["worker_max"] <= w["max"] for w in spans)
    # The worker, the bench and the machine were sampled through the paced load; the broker is
    # the tests' own, not the suite's, so its process is not watched.
    assert all(w["cpu"]["worker"] > 0 and w["cpu"]["bench"] > 0 and w["cpu"]["busy"] > 0 for w in spans)
    assert all("broker" not in w["cpu"] for w in spans)
    profiled = result["profile"]
    assert "error" not in profiled, profiled
    assert profiled["samples"] > 0 and profiled["messages"] == PROFILED
    assert sum(profiled["categories"].values()) == pytest.approx(1.0)
    assert any(name.startswith("core") for name in profiled["categories"])

    assert json.loads((out / "results.json").read_text())["worker"]["articles"] == worker["articles"]
    assert [row["pass"] is not None for row in report.targets(result)].count(True) >= 5
    chart = out / "benchmarks.png"
    report.write_chart(result, chart)
    text = report.write_docs(result, chart, tmp_path / "docs").read_text()
    assert "## Where the worker's CPU goes" in text and "Worker CPU per article" in text
