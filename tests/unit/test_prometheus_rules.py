"""The Prometheus and Alertmanager files, checked by their own tools (local binaries, no network)."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RULES = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
ALERTS = [rule for group in RULES for rule in group["rules"] if "alert" in rule]
RULE_TESTS = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "command",
    [
        ("check", "config", "prometheus.yml"),
        ("check", "rules", "alerts.yml"),
        ("test", "rules", "alerts_test.yml"),
    ],
    ids=" ".join,
)
def test_promtool_accepts(command):
    promtool = require_tool("promtool")
    result = subprocess.run([promtool, *command], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_five_self_alerts_of_the_issue_exist():
    names = {a["alert"] for a in ALERTS}
    assert {
        "NewsflowWorkerDown", "NewsflowConsumerLagGrowing", "NewsflowDeadLetterRatioHigh",
        "NewsflowNoInput", "NewsflowAlertStageStalled",
    } <= names


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_each_alert_is_tested_firing_and_quiet(alert):
    cases = [case for test in RULE_TESTS for case in test["alert_rule_test"] if case["alertname"] == alert["alert"]]
    assert any(case["exp_alerts"] for case in cases), "no test shows it firing"
    assert any(not case["exp_alerts"] for case in cases), "no test shows it quiet"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_each_alert_says_what_to_do(alert):
    annotations = alert["annotations"]
    assert annotations["summary"] and annotations["description"]
    assert alert["labels"]["severity"] in {"critical", "warning"}
    doc, anchor = annotations["runbook_url"].split("#")
    headings = re.findall(r"^#+ (.+)$", (ROOT / doc).read_text(), re.M)
    assert anchor in {h.strip().lower() for h in headings}, f"README.md has no heading {alert['alert']}"


def test_alertmanager_accepts_its_config():
    amtool = require_tool("amtool")
    result = run(amtool, "check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "labels, receiver",
    [
        # A news alert as the workers post it (service/core/rules/alertmanager.py labels_of).
        (["alertname=story-3-sources", "severity=critical", "newsflow_group=story:a1", "alert_id=ab12"], "newsroom"),
        (["alertname=NewsflowWorkerDown", "severity=critical", "job=newsflow"], "operators"),
    ],
)
def test_alertmanager_routes_news_and_self_alerts_apart(labels, receiver):
    amtool = require_tool("amtool")
    result = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
                 f"--verify.receivers={receiver}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
