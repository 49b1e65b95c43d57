"""The suite's presets and its place in the CLI (the measurements themselves are a command)."""

import pytest
from typer.testing import CliRunner

from service.bench.suite import FULL, QUICK, Phases, scale_for
from service.cli.main import app


@pytest.mark.parametrize("quick, count, backlog, rss_at", [
    (False, None, 200_000, (50_000, 200_000)),
    (True, None, 8_000, (2_000, 8_000)),
    (True, 12_000, 12_000, (3_000, 12_000)),
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
    for expected in ("--quick", "--out", "--docs", "--count", "dedup", "worker", "tagging", "rules", "chaos", "report"):
        assert expected in result.output


def test_bench_report_renders_a_finished_run_again_without_measuring(tmp_path, monkeypatch):
    from service.bench import report
    from tests.unit.test_bench_report import make_result

    run = tmp_path / "run"
    run.mkdir()
    report.write_json(make_result(), run / "results.json")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["bench", "report", str(run), "--docs"])
    assert result.exit_code == 0, result.output
    assert "Targets" in result.output and "wrote docs/benchmarks.md" in result.output
    assert (tmp_path / "docs" / "benchmarks.md").read_text().startswith("# Benchmarks")
    assert (run / "benchmarks.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_report_of_something_else_is_a_clear_error(tmp_path):
    (tmp_path / "results.json").write_text('{"core": {}}')
    result = CliRunner().invoke(app, ["bench", "report", str(tmp_path)])
    assert result.exit_code != 0 and "missing worker, latency, passthrough" in result.output
    result = CliRunner().invoke(app, ["bench", "report", str(tmp_path / "nowhere")])
    assert result.exit_code != 0 and "cannot read" in result.output
