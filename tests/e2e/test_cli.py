"""The commands a user meets, run as processes against the real broker."""

import json
import os
import subprocess
import sys

import pytest

from service.admin import ensure_topics
from service.settings import Settings
from tests.support.broker import free_port
from tests.support.factories import make_article

pytestmark = pytest.mark.e2e


def newsflow(settings: Settings, *args: str, input: str | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.as_env()}
    return subprocess.run(
        [sys.executable, "-m", "service", *args], env=env, input=input, capture_output=True, text=True, timeout=timeout
    )


def test_push_then_tail_through_a_worker(settings_factory, start_worker, tmp_path):
    settings = settings_factory()
    start_worker(settings)
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(make_article(id=f"cli-{i}", source="cli.example")) for i in range(3)) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "no body"}\n{oops\n')

    pushed = newsflow(settings, "push", str(good), str(bad), "--source", "override.example")
    assert pushed.returncode == 0, pushed.stderr
    assert "sent 3" in pushed.stdout and "rejected 2" in pushed.stdout
    assert f"{bad}:1" in pushed.stderr and f"{bad}:2" in pushed.stderr

    raw = newsflow(settings, "push", "--raw", "-", input='{"body": ""}\n')
    assert raw.returncode == 0 and "sent 1" in raw.stdout

    tailed = _tail_until(settings, "enriched", 3)
    events = [json.loads(line) for line in tailed.splitlines()]
    assert sorted(e["id"] for e in events) == ["cli-0", "cli-1", "cli-2"]
    assert {e["source"] for e in events} == {"override.example"}

    readable = newsflow(settings, "tail", "invalid")
    assert "DEAD LETTER empty_body" in readable.stdout


def _tail_until(settings, topic, count, attempts=60):
    import time

    for _ in range(attempts):
        out = newsflow(settings, "tail", topic, "--json").stdout
        if len(out.splitlines()) >= count:
            return out
        time.sleep(0.5)
    raise AssertionError(f"{topic} never reached {count} events")


def test_push_to_an_unreachable_broker_fails_clearly(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps(make_article()) + "\n")
    result = newsflow(Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}"), "push", str(f), timeout=60)
    assert result.returncode == 1 and "no Kafka broker answered" in result.stderr


def test_demo_runs_to_its_summary_and_exits_zero(settings_factory):
    settings = settings_factory()
    result = newsflow(settings, "demo", "--timeout", "120")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Outcomes of this run" in result.stdout
    assert "DEAD LETTER" in result.stdout and "nf-seed-001" in result.stdout
    assert "duplicate of" in result.stdout and "Alerts (" in result.stdout and "(firing)" in result.stdout, result.stdout


def test_schemas_prints_every_topic_contract(settings_factory):
    result = newsflow(Settings(), "schemas")
    schemas = json.loads(result.stdout)
    assert set(schemas) == {"articles.raw", "articles.enriched", "articles.duplicates", "articles.invalid", "alerts"}
    assert "body" in schemas["articles.raw"]["required"]


def test_kafka_start_status_stop_on_custom_ports(tmp_path):
    settings = Settings(
        kafka_port=free_port(), kafka_controller_port=free_port(), data_dir=tmp_path, kafka_heap="384m"
    )
    try:
        first = newsflow(settings, "kafka", "start")
        assert first.returncode == 0 and "started" in first.stdout, first.stderr
        again = newsflow(settings, "kafka", "start")
        assert again.returncode == 0 and "already running" in again.stdout
        status = newsflow(settings, "kafka", "status")
        assert status.returncode == 0 and "answers: True" in status.stdout
        assert asyncio_run_ensure(settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{settings.kafka_port}"}))
    finally:
        stopped = newsflow(settings, "kafka", "stop")
    assert "stopped" in stopped.stdout
    assert newsflow(settings, "kafka", "status").returncode == 1


def asyncio_run_ensure(settings: Settings) -> list[str]:
    import asyncio

    return asyncio.run(ensure_topics(settings))


def test_rules_validate_accepts_the_shipped_rules_and_names_the_line_of_a_bad_one(tmp_path):
    good = newsflow(Settings(), "rules", "validate", "seeds/rules.yaml")
    assert good.returncode == 0 and "rules are valid" in good.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    name: X\n    severity: loud\n    when:\n      all:\n        - keyword: [a]\n")
    result = newsflow(Settings(), "rules", "validate", str(bad))
    assert result.returncode == 1 and "severity" in result.stderr and "line 4" in result.stderr


ONE_RULE = """
rules:
  - id: published-only
    name: A rule that only the rules topic has
    severity: info
    when:
      all:
        - keyword: [zzzqqq]
"""


def test_rules_list_shows_the_rules_workers_run_and_where_they_come_from(settings_factory, tmp_path):
    import asyncio

    from service.cli.inputs import Item
    from service.producer import push
    from service.topic_names import TopicNames

    settings = settings_factory()
    # No topics yet: nothing was ever published, so workers run the rules file.
    before = newsflow(settings, "rules", "list")
    assert before.returncode == 0, before.stderr
    origin = before.stdout.splitlines()[0]
    assert " rules from file " in origin and "nothing valid published" in origin
    assert "strike-on-designated-group" in before.stdout

    published = tmp_path / "published.yaml"
    published.write_text(ONE_RULE)
    assert newsflow(settings, "rules", "publish", str(published)).returncode == 0
    # A file that does not parse, pushed behind the CLI's back: workers reject it and keep the last good one.
    topic = TopicNames.from_settings(settings).alert_rules
    asyncio.run(push(settings, topic, [Item("bad", b"rules: [unclosed", b"rules")]))

    after = newsflow(settings, "rules", "list")
    assert after.returncode == 0, after.stderr
    origin, *rows = after.stdout.splitlines()
    assert origin.startswith(f"1 rules from topic {topic}, offset 0, published 20")
    assert "1 later publication(s) were rejected" in origin
    assert [row.split()[0] for row in rows] == ["published-only"]

    chosen = newsflow(settings, "rules", "list", "seeds/rules.yaml")
    assert chosen.returncode == 0 and " rules from file seeds/rules.yaml" in chosen.stdout.splitlines()[0]
