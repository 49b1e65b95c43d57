"""Observability on a real worker: its /metrics pass `promtool check metrics` and count what was
pushed; a real Prometheus scrapes it during the run and evaluates every PromQL expression of the
Grafana dashboard and of the self-alerting rules; a real Alertmanager receives both kinds of
alerts. The run reads as steps: start, push, reload rules and KB, verify."""

import asyncio
import json
import math
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from service import codec
from service.cli.inputs import Item, read_items
from service.outcomes import collect_outcomes
from service.producer import push
from service.topic_names import TopicNames
from tests.support.broker import free_port
from tests.support.factories import random_text, raw_bytes
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
ALERT_RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "newsflow.json"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
# Lag is 0 whenever the worker has caught up and committed, which it may do between scrapes.
MAY_STAY_ZERO = {"Consumer lag"}

RULES = """
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
MORE_RULES = RULES + """
  - id: never
    name: Matches nothing in this test
    severity: info
    when:
      all:
        - keyword: [zzzqqq]
"""


def wait_for(what: str, check, timeout: float = 120.0, every: float = 0.5):
    """Poll `check()` until it returns something truthy; generous, for a loaded 2-core machine."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as e:
            last = e
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Daemon:
    """A server process of the test (Prometheus, Alertmanager), stopped at teardown."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log_path = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.proc.args[0]} exited: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture
def daemons():
    started: list[Daemon] = []

    def start(args: list[str], log: Path) -> Daemon:
        started.append(Daemon(args, log))
        return started[-1]

    yield start
    for daemon in started:
        daemon.stop()


def samples(text: str) -> list:
    """Every sample of a /metrics text."""
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def named(found: list, name: str, **labels) -> list:
    return [s for s in found if s.name == name and labels.items() <= s.labels.items()]


def value(found: list, name: str, **labels) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(s.value for s in named(found, name, **labels))


def dashboard_expressions() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    found = [(p["title"], t["expr"]) for p in panels for t in p.get("targets", [])]
    assert len(found) >= 20
    return found


def alert_expressions() -> list[tuple[str, str]]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [(r["alert"], r["expr"]) for g in groups for r in g["rules"]]


class PromAPI:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, path: str, **params) -> dict:
        status, body = get(f"{self.base}{path}?{urllib.parse.urlencode(params)}", timeout=30)
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", (path, params, answer)
        return answer["data"]


def test_metrics_prometheus_dashboard_and_alerts_on_a_real_run(settings_factory, start_worker, daemons, tmp_path):
    promtool = require_tool("promtool")
    prometheus = require_tool("prometheus")
    alertmanager = require_tool("prometheus-alertmanager")

    # --- start: Alertmanager with the deploy/ config, a worker that posts to it, Prometheus ----
    am_port = free_port()
    am = daemons([alertmanager, f"--config.file={ALERTMANAGER_CONFIG}", f"--storage.path={tmp_path / 'am'}",
                  f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="], tmp_path / "am.log")
    am_url = f"http://127.0.0.1:{am_port}"
    wait_for("Alertmanager", lambda: am.check() or get(f"{am_url}/-/ready")[0] == 200)

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    themes = tmp_path / "themes.yaml"
    shutil.copy(SEEDS / "themes.yaml", themes)
    settings = settings_factory(rules_path=rules, themes_path=themes, kb_reload_seconds=1.0, alertmanager_url=am_url)
    names = TopicNames.from_settings(settings)
    worker = start_worker(settings)
    web = f"http://{settings.web_host}:{settings.web_port}"

    prom_port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERT_RULES)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [
            {"job_name": "newsflow", "metrics_path": "/metrics",
             "static_configs": [{"targets": [f"127.0.0.1:{settings.web_port}"]}]},
            {"job_name": "newsflow-faust", "metrics_path": "/metrics/faust",
             "static_configs": [{"targets": [f"127.0.0.1:{settings.web_port}"]}]},
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    prom = daemons([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"], tmp_path / "prometheus.log")
    api = PromAPI(f"http://127.0.0.1:{prom_port}/api/v1")
    wait_for("Prometheus", lambda: prom.check() or get(f"http://127.0.0.1:{prom_port}/-/ready")[0] == 200)
    wait_for("both scrape jobs up", lambda: len(api.call("/query", query="up == 1")["result"]) == 2)
    started_at = time.time()

    # --- health pages ---------------------------------------------------------------------------
    status, body = get(f"{web}/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    status, body = get(f"{web}/readyz")
    ready = json.loads(body)
    assert status == 200 and ready["ready"] and ready["recovery_done"]
    assert {f"{names.raw}:{p}" for p in range(settings.topic_partitions)} | {f"{names.dedup_requests}:0"} <= set(
        ready["assigned"]
    )

    # --- push: the seeds, reprints of them, and stories the rule alerts on ------------------------
    items = list(read_items([str(SEEDS / "articles")]))
    items += list(read_items([str(SEEDS / "invalid.jsonl")], validate=False))
    seed_bodies = [codec.loads(i.value)["body"] for i in items[:3]]
    items += [Item(f"reprint {n}", raw_bytes(id=f"reprint-{n}", body=b), None) for n, b in enumerate(seed_bodies)]
    story = "Tren de Aragua members were charged, prosecutors said. "
    items += [Item(f"story {n}", raw_bytes(id=f"story-{n}", body=story + random_text(900 + n, 120)), None) for n in range(2)]
    result = asyncio.run(push(settings, names.raw, items))
    assert len(result.sent) == len(items), result.rejected
    log = asyncio.run(collect_outcomes(settings, result.sent_positions, timeout=180, linger=2, check=worker.check))
    assert not log.missing and log.repeats == 0
    outcomes = [(topic, codec.loads(v)) for topic, _, v in log.first().values()]
    by_topic = Counter(topic for topic, _ in outcomes)
    dead_reasons = Counter(event["error"]["code"] for topic, event in outcomes if topic == names.invalid)
    dup_kinds = Counter(event["kind"] for topic, event in outcomes if topic == names.duplicates)
    assert by_topic[names.enriched] and dup_kinds and dead_reasons

    # --- reload: a bad rules file is rejected, the KB reloads, a good rules file is loaded ---------
    rules.write_text("rules: [this is not a rule]\n")
    wait_for("the bad rules rejected",
             lambda: value(samples(get(f"{web}/metrics")[1].decode()), "newsflow_rule_reloads_total", result="rejected") == 1)
    os.utime(themes)
    rules.write_text(MORE_RULES)
    wait_for("rules and KB reloaded", lambda: (
        (m := samples(get(f"{web}/metrics")[1].decode()))
        and value(m, "newsflow_rule_reloads_total", result="loaded") == 1
        and value(m, "newsflow_knowledge_base_reloads_total", result="loaded") == 1
    ))

    # --- verify /metrics: lint-clean, and counting exactly what happened ---------------------------
    def caught_up() -> str | None:
        # Lag reaches 0 once the last offsets are committed (every commit_interval).
        text = get(f"{web}/metrics")[1].decode()
        m = samples(text)
        lag = named(m, "newsflow_consumer_lag_messages")
        done = len(lag) == settings.topic_partitions + 1 and all(s.value == 0 for s in lag)
        return text if done and value(m, "newsflow_alertmanager_posts_total", result="ok") > 0 else None

    text = wait_for("lag 0 and alerts posted", caught_up)
    lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0 and not (lint.stdout + lint.stderr).strip(), lint.stdout + lint.stderr

    families = list(text_string_to_metric_families(text))
    assert all(f.documentation for f in families)
    assert {f.name for f in families} >= {
        "newsflow_messages_in", "newsflow_messages_out", "newsflow_invalid", "newsflow_duplicates",
        "newsflow_stage_processing_seconds", "newsflow_end_to_end_latency_seconds", "newsflow_article_size_bytes",
        "newsflow_entities_tagged", "newsflow_entity_mentions", "newsflow_alerts", "newsflow_rules_loaded",
        "newsflow_rule_reloads", "newsflow_knowledge_base_entities", "newsflow_knowledge_base_reloads",
        "newsflow_consumer_lag_messages", "newsflow_dedup_index_entries", "newsflow_dedup_index_bytes",
        "newsflow_build_info", "process_resident_memory_bytes",
    }
    m = samples(text)
    valid = by_topic[names.enriched] + by_topic[names.duplicates]
    assert value(m, "newsflow_messages_in_total", stage="ingest") == len(items)
    assert value(m, "newsflow_messages_out_total", stage="ingest", outcome="valid") == valid
    assert value(m, "newsflow_messages_out_total", stage="ingest", outcome="invalid") == by_topic[names.invalid]
    assert value(m, "newsflow_messages_in_total", stage="dedup") == valid
    assert value(m, "newsflow_messages_out_total", stage="dedup", outcome="enriched") == by_topic[names.enriched]
    assert value(m, "newsflow_messages_out_total", stage="dedup", outcome="duplicate") == by_topic[names.duplicates]
    for kind in ("exact", "near"):
        assert value(m, "newsflow_duplicates_total", kind=kind) == dup_kinds[kind]
    for reason, count in dead_reasons.items():
        assert value(m, "newsflow_invalid_total", reason=reason) == count
    assert value(m, "newsflow_invalid_total") == by_topic[names.invalid]
    assert value(m, "newsflow_stage_processing_seconds_count", stage="ingest") == len(items)
    assert value(m, "newsflow_article_size_bytes_count") == len(items)
    assert value(m, "newsflow_end_to_end_latency_seconds_count") == len(items)
    assert value(m, "newsflow_alerts_total", rule="any-tda", severity="warning", status="firing") >= 1
    assert value(m, "newsflow_entity_mentions_total") == value(m, "newsflow_entities_tagged_total") > 0
    assert value(m, "newsflow_dedup_index_entries") == valid
    assert value(m, "newsflow_dedup_index_bytes") > 0
    assert value(m, "newsflow_rules_loaded", source="file") == 2
    assert value(m, "newsflow_knowledge_base_entities") > 100
    (build,) = named(m, "newsflow_build_info")
    assert build.labels["version"] and build.labels["faust_streaming_version"] and build.labels["aiokafka_version"]

    status, faust_text = get(f"{web}/metrics/faust")
    faust = samples(faust_text.decode())
    assert status == 200 and value(faust, "faust_messages_received_total") >= len(items)

    # --- verify Prometheus: what it scraped, and every expression of the dashboard and alerts -----
    def scraped_everything() -> bool:
        answer = api.call("/query", query='sum(newsflow_rule_reloads_total{result="loaded"})')["result"]
        return bool(answer) and float(answer[0]["value"][1]) == 1

    wait_for("Prometheus to scrape the final counts", scraped_everything)
    # Past the last step's time, so the last step sees the samples just found.
    end = time.time() + 2
    window = f"{int(end - started_at) + 60}s"
    for title, expr in dashboard_expressions():
        query = expr.replace("$__rate_interval", "15s").replace("$__range", window)
        series = api.call("/query_range", query=query, start=started_at, end=end, step=1)["result"]
        assert series, f"{title}: no data for {query}"
        points = [float(v) for s in series for _, v in s["values"]]
        if title not in MAY_STAY_ZERO:
            assert any(math.isfinite(p) and p > 0 for p in points), f"{title}: only zeros/NaN for {query}: {series}"
    for alert, expr in alert_expressions():
        api.call("/query", query=expr)  # parses and evaluates (an error fails in call())
    groups = wait_for("rule evaluations", lambda: [g for g in api.call("/rules")["groups"] if all(
        not r["lastEvaluation"].startswith("0001") for r in g["rules"])])
    assert all(r["health"] == "ok" for g in groups for r in g["rules"]), groups

    # The rejected rules file fired a self-alert, which Prometheus delivered to Alertmanager next to
    # the news alert the worker posted there.
    firing = wait_for("NewsflowRulesRejected firing", lambda: [
        a for a in api.call("/alerts")["alerts"] if a["labels"]["alertname"] == "NewsflowRulesRejected" and a["state"] == "firing"
    ])
    assert firing[0]["annotations"]["runbook_url"] == "README.md#newsflowrulesrejected"

    def in_alertmanager() -> set[str]:
        received = {a["labels"]["alertname"] for a in json.loads(get(f"{am_url}/api/v2/alerts")[1])}
        return received if {"NewsflowRulesRejected", "any-tda"} <= received else set()

    wait_for("both kinds of alerts in Alertmanager", in_alertmanager, timeout=90)
