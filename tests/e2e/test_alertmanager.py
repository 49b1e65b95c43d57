"""Alerts reach a real Alertmanager: one alert with stable labels through an update, re-sent
while active, resolved when the rule's cooldown ends."""

import asyncio
import json
import shutil
import subprocess
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from service import codec
from service.cli.inputs import Item
from service.consumer import read
from service.outcomes import collect_outcomes
from service.producer import push
from service.topic_names import TopicNames
from tests.support.broker import REQUIRE_BROKER, free_port
from tests.support.factories import random_text, raw_bytes

pytestmark = pytest.mark.e2e
COOLDOWN = 45
RULES = f"""
rules:
  - id: tda-story
    name: A story about Tren de Aragua
    severity: warning
    when:
      all:
        - entity: Tren de Aragua
    group_by: story
    cooldown: {COOLDOWN}s
"""
# Alertmanager needs a route and a receiver; one with no integrations notifies nobody.
CONFIG = "route:\n  receiver: nobody\n  group_wait: 1s\nreceivers:\n  - name: nobody\n"


@pytest.fixture
def alertmanager(tmp_path: Path):
    """Base URL of a real Alertmanager on free ports, stopped at teardown."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        message = "Alertmanager is not installed (Debian package prometheus-alertmanager; `make system-deps`)"
        if REQUIRE_BROKER:
            pytest.fail(message)
        pytest.skip(message)
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    url = f"http://127.0.0.1:{free_port()}"
    log_path = tmp_path / "alertmanager.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.path={tmp_path / 'alertmanager-data'}",
             f"--web.listen-address={url.removeprefix('http://')}", "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    try:
        eventually(lambda: proc.poll() is None and _ready(url), 30, f"Alertmanager did not start; see {log_path}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def eventually(check, timeout: float, message: str):
    """The first truthy result of `check()`, polled until `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(message)


def active_alerts(url: str) -> list[dict]:
    """Alerts Alertmanager holds as not yet resolved, newsflow's rule only."""
    with urllib.request.urlopen(f"{url}/api/v2/alerts?filter=alertname%3D%22tda-story%22", timeout=5) as response:
        return json.loads(response.read())


def send(settings, items) -> None:
    result = asyncio.run(push(settings, TopicNames.from_settings(settings).raw, items))
    assert not asyncio.run(collect_outcomes(settings, result.sent_positions, timeout=120, linger=1.0)).missing


def alert_events(settings) -> list[dict]:
    found: list[dict] = []
    names = TopicNames.from_settings(settings)
    asyncio.run(read(settings, [names.alerts], lambda r: found.append(codec.loads(r.value))))
    return found


def metric(settings, line_start: str) -> float:
    page = urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/metrics", timeout=5).read().decode()
    values = [float(line.rsplit(" ", 1)[1]) for line in page.splitlines() if line.startswith(line_start + " ")]
    return values[0] if values else 0.0


def seconds(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def test_an_alert_reaches_alertmanager_keeps_its_labels_is_re_sent_and_resolves_after_the_cooldown(
    alertmanager, settings_factory, start_worker, tmp_path
):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    settings = settings_factory(rules_path=rules, alertmanager_url=alertmanager, alertmanager_resend_seconds=1.0)
    start_worker(settings)
    story = "Tren de Aragua members were charged in Houston, prosecutors said. " + random_text(7100, 150)

    def copy(n: int, source: str) -> Item:
        # One key keeps the copies in order on one raw partition: the first is the original.
        return Item(str(n), raw_bytes(id=f"am-{n}", source=source, body=story), b"story")

    # Start: the original fires the rule.
    send(settings, [copy(0, "a.example")])
    (event,) = eventually(lambda: alert_events(settings), 30, "no alert event on the alerts topic")
    (alert,) = eventually(lambda: active_alerts(alertmanager), 30, "the alert did not reach Alertmanager")
    assert alert["labels"] == {"alertname": "tda-story", "severity": "warning",
                               "newsflow_group": "story:am-0", "alert_id": event["alert_id"]}
    assert alert["status"]["state"] == "active"
    assert alert["annotations"]["summary"] == "A story about Tren de Aragua"
    assert alert["annotations"]["sources"] == "a.example"
    # Alertmanager resolves it on its own at the end of the cooldown, should newsflow go away.
    assert seconds(alert["endsAt"]) - seconds(alert["startsAt"]) == pytest.approx(COOLDOWN, abs=0.01)

    # Update: a copy from another outlet updates the same alert, under the same labels.
    send(settings, [copy(1, "b.example")])
    assert [e["status"] for e in alert_events(settings)] == ["firing", "updated"]

    def updated():
        alerts = active_alerts(alertmanager)
        return alerts if alerts and "b.example" in alerts[0]["annotations"]["sources"] else None

    (after,) = eventually(updated, 20, "the update did not reach Alertmanager")
    assert after["labels"] == alert["labels"] and after["fingerprint"] == alert["fingerprint"]
    assert after["startsAt"] == alert["startsAt"] and after["endsAt"] == alert["endsAt"]

    # Re-sent while active: Alertmanager hears of it again with no new article.
    eventually(lambda: active_alerts(alertmanager)[0]["updatedAt"] != after["updatedAt"], 15,
               "the active alert was not re-sent")
    assert metric(settings, 'newsflow_alertmanager_posts_total{result="ok"}') >= 3
    assert metric(settings, 'newsflow_alertmanager_posts_total{result="failed"}') == 0

    # End: after the cooldown the alert is resolved, no longer among the active ones.
    left = seconds(alert["endsAt"]) - time.time()
    eventually(lambda: active_alerts(alertmanager) == [], left + 20, "the alert was not resolved after its cooldown")
    eventually(lambda: metric(settings, 'newsflow_alertmanager_alerts_sent_total{state="resolved"}') == 1, 10,
               "newsflow did not send the alert resolved")
    assert metric(settings, "newsflow_alertmanager_active_alerts") == 0
