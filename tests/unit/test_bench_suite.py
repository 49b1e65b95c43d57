"""The suite's presets and its place in the CLI (the measurements themselves are a command)."""

import pytest
from typer.testing import CliRunner

from service.bench.suite import FULL, QUICK, Phases, scale_for
from service.cli.main import app


@pytest.mark.parametrize("quick, count, backlog, rss_at", [
    (False, None, 200_000, (50_000, 200_000)),
    (True, None, 10_000, (2_500, 10_000)),
    (True, 8_000, 8_000, (2_000, 8_000)),
])
def test_scales(quick, count, backlog, rss_at):
    scale = scale_for(quick, count)
    assert (scale.backlog, scale.rss_at) == (backlog, rss_at)
    assert scale.core_messages == (QUICK if quick else FULL).core_messages


def test_phases_follow_each_other(monkeypatch):
    clock = iter([10.0, 12.5, 20.0])
    monkeypatch.setattr("service.bench.suite.time.monotonic", lambda: next(clock))
    phases = Phases()
    phases.done("first")
    phases.done("second")
    assert phases.seconds == {"first": 2.5, "second": 7.5}


def test_bench_without_a_subcommand_is_the_suite_and_the_subcommands_stay():
    result = CliRunner().invoke(app, ["bench", "--help"])
    assert result.exit_code == 0
    for expected in ("--quick", "--out", "--docs", "--count", "dedup", "worker", "tagging", "rules", "chaos"):
        assert expected in result.output
