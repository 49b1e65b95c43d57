"""Alerts on the real worker: a threshold fires once, reprints add nothing, a new source updates."""

import asyncio

from service import codec
from service.cli.inputs import Item
from service.consumer import read
from service.outcomes import collect_outcomes
from service.producer import push
from service.topic_names import TopicNames
from tests.support.factories import random_text, raw_bytes

RULES = """
rules:
  - id: story-3-sources
    name: A strike story on Tren de Aragua reported by three outlets
    severity: critical
    when:
      all:
        - entity: Tren de Aragua
        - keyword: [strike]
    threshold: {count: 3, distinct: source, window: 1h}
    group_by: story
    cooldown: 6h
"""


def _alerts(settings) -> list[dict]:
    names = TopicNames.from_settings(settings)
    found: list[dict] = []
    asyncio.run(read(settings, [names.alerts], lambda r: found.append(codec.loads(r.value))))
    return found


def _send(settings, items):
    names = TopicNames.from_settings(settings)
    result = asyncio.run(push(settings, names.raw, items))
    # An article's alerts follow its outcome: linger a moment so they are on the topic too.
    assert not asyncio.run(collect_outcomes(settings, result.sent_positions, timeout=120, linger=1.5)).missing


def test_one_alert_per_story_with_an_update_for_a_new_source(settings_factory, start_worker, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    settings = settings_factory(rules_path=rules)
    start_worker(settings)
    story = "A US strike hit a boat run by Tren de Aragua, officials said. " + random_text(40, 200)

    def copy(n, source):
        # One key keeps the copies in order on one raw partition.
        return Item(str(n), raw_bytes(id=f"copy-{n}", source=source, body=story), b"story")

    _send(settings, [copy(0, "a.example"), copy(1, "b.example")])
    assert _alerts(settings) == [], "two sources are below the threshold"

    _send(settings, [copy(2, "c.example")] + [copy(n, "c.example") for n in range(3, 23)])
    (fired,) = _alerts(settings)
    assert fired["status"] == "firing" and fired["group"] == "story:copy-0"
    assert set(fired["sources"]) == {"a.example", "b.example", "c.example"}

    _send(settings, [copy(99, "d.example")])
    alerts = _alerts(settings)
    assert [a["status"] for a in alerts] == ["firing", "updated"]
    assert alerts[1]["alert_id"] == fired["alert_id"] and "d.example" in alerts[1]["sources"]

    # The backtest replays the same log through the same rules: the same alerts, none published.
    import json
    import os
    import subprocess
    import sys

    replay = subprocess.run([sys.executable, "-m", "service", "rules", "backtest", str(rules), "--json"],
                            env={**os.environ, **settings.as_env()}, capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    replayed = [json.loads(line) for line in replay.stdout.splitlines()]
    assert [(a["status"], a["alert_id"], sorted(a["sources"])) for a in replayed] == [
        (a["status"], a["alert_id"], sorted(a["sources"])) for a in alerts
    ]
    assert len(_alerts(settings)) == 2


NEVER = """
rules:
  - id: never
    name: Matches nothing in these tests
    severity: info
    when:
      all:
        - keyword: [zzzqqq]
"""

EVERY_TDA = """
rules:
  - id: any-tda
    name: Tren de Aragua in the news
    severity: warning
    when:
      all:
        - entity: Tren de Aragua
    group_by: story
    cooldown: 1h
"""


def test_rules_published_on_the_topic_take_effect_without_restart_and_bad_ones_are_rejected(
    settings_factory, start_worker, tmp_path
):
    import os
    import subprocess
    import sys
    import time

    start_file = tmp_path / "never.yaml"
    start_file.write_text(NEVER)
    settings = settings_factory(rules_path=start_file)
    names = TopicNames.from_settings(settings)
    start_worker(settings)

    def article(n):
        body = "Tren de Aragua members were charged, prosecutors said. " + random_text(500 + n, 150)
        return Item(str(n), raw_bytes(id=f"tda-{n}", source=f"s{n}.example", body=body), b"k")

    _send(settings, [article(0)])
    assert _alerts(settings) == []

    published = tmp_path / "every.yaml"
    published.write_text(EVERY_TDA)
    env = {**os.environ, **settings.as_env()}
    run = subprocess.run([sys.executable, "-m", "service", "rules", "publish", str(published)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr

    # A file that does not parse, pushed behind the CLI's back, must not replace the rules.
    asyncio.run(push(settings, names.alert_rules, [Item("bad", b"rules: [unclosed", b"rules")]))
    deadline, n = time.monotonic() + 30, 1
    while not _alerts(settings) and time.monotonic() < deadline:
        _send(settings, [article(n)])
        n += 1
    fired = _alerts(settings)
    assert fired and fired[0]["rule_id"] == "any-tda"

    import urllib.request

    def rejected() -> bool:
        page = urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/metrics", timeout=5).read().decode()
        return 'newsflow_rule_reloads_total{result="rejected"} 1.0' in page

    while not rejected() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert rejected(), "the unparsable rules were not seen and rejected"
    _send(settings, [article(1000)])
    after = _alerts(settings)
    assert len(after) == len(fired) + 1 and after[-1]["rule_id"] == "any-tda", "the running rules must stay"
