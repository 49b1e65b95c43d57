"""The worker and the CLI on a broker that only speaks SASL_SSL: the pipeline runs, secrets and
article text stay out of output and /metrics, refused credentials end the process promptly."""

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from service.admin import ensure_topics
from service.cli.inputs import Item
from service.outcomes import collect_outcomes
from service.producer import push
from service.settings import Settings
from service.topic_names import TopicNames
from tests.support.broker import free_port
from tests.support.factories import random_text, raw_bytes
from tests.support.secure_broker import PRODUCER_USER, RULES_USER, WORKER_USER, Acl, secure_broker_for_tests

pytestmark = pytest.mark.e2e

PROJECT = Path(__file__).resolve().parents[2]
# Long enough for a cold interpreter to import everything; far shorter than a hang.
REFUSAL_LIMIT = 60.0


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    yield from secure_broker_for_tests(tmp_path_factory.mktemp("secure-kafka"))


def own(settings: Settings, tmp_path: Path) -> Settings:
    """`settings` with topics, group, state and web port of this test's own."""
    tag = uuid.uuid4().hex[:10]
    values = dict(
        topic_prefix=f"t{tag}.", app_id=f"nf-{tag}", data_dir=tmp_path / f"state-{tag}", web_port=free_port(),
        topic_partitions=2,
    )
    return settings.model_copy(update=values)


def with_user(settings: Settings, secure, user: str) -> Settings:
    """`settings` authenticating as `user` instead."""
    return settings.model_copy(
        update={"kafka_sasl_username": user, "kafka_sasl_password": SecretStr(secure.passwords[user])}
    )


# The ACLs of the README ("Deployment security"), per role: the test runs each role with nothing more.
def worker_acls(settings: Settings) -> list[Acl]:
    names, user = TopicNames.from_settings(settings), WORKER_USER
    return [
        # The alerts topic is read back after a crash, to tell which alert updates went out.
        *(Acl(user, "read", "topic", t) for t in (names.raw, names.dedup_requests, names.alert_rules, names.alerts)),
        *(Acl(user, "write", "topic", t) for t in (*names.outcomes(), names.alerts, names.dedup_requests)),
        # Faust's own topics (table changelogs, the leader topic) are named after the app id.
        *(Acl(user, op, "topic", f"{settings.app_id}-", prefixed=True) for op in ("create", "read", "write")),
        Acl(user, "read", "group", settings.app_id),
    ]


def producer_acls(settings: Settings) -> list[Acl]:
    return [Acl(PRODUCER_USER, "write", "topic", TopicNames.from_settings(settings).raw)]


def rules_publisher_acls(settings: Settings) -> list[Acl]:
    names = TopicNames.from_settings(settings)
    # `newsflow rules publish` first checks that the contract's topics exist: it must see them.
    return [
        Acl(RULES_USER, "write", "topic", names.alert_rules),
        *(Acl(RULES_USER, "describe", "topic", t) for t in names.partitions(1)),
    ]


def newsflow(settings: Settings, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.as_env()}
    return subprocess.run(
        [sys.executable, "-m", "service", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def listening_addresses(port: int) -> set[str]:
    """The addresses sockets listen on at `port`, from the kernel's tables."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                # The kernel prints each 32-bit word of the address in host (little-endian) order.
                raw = bytes.fromhex(address)
                found.add(socket.inet_ntop(family, b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))))
    return found


def metrics_page(settings: Settings, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}{path}", timeout=5) as response:
        return response.read().decode()


def test_the_pipeline_runs_over_sasl_ssl_with_least_privilege_roles(secure, start_worker, tmp_path):
    admin = own(secure.admin, tmp_path)
    worker_settings = with_user(admin, secure, WORKER_USER)
    names = TopicNames.from_settings(admin)
    assert admin.web_host == Settings.model_fields["web_host"].default == "127.0.0.1"
    phrase = f"quetzal lighthouse accordion {uuid.uuid4().hex[:8]}"
    title = f"Harbour pilots strike over {uuid.uuid4().hex[:8]}"

    # Start: an operator creates the topics and grants each role its ACLs; the worker
    # authenticates as its own SCRAM user over TLS.
    asyncio.run(ensure_topics(admin))
    secure.grant(worker_acls(admin) + producer_acls(admin) + rules_publisher_acls(admin))
    worker = start_worker(worker_settings)
    assert listening_addresses(admin.web_port) == {"127.0.0.1"}

    # Produce: articles from the producer role, carrying a phrase that must never reach
    # /metrics; rules from the rules publisher role, through the CLI.
    items = [
        Item(f"a{i}", raw_bytes(id=f"sec-{i}", title=f"{title} ({i})", body=f"{random_text(900 + i, 80)} {phrase}."))
        for i in range(20)
    ]
    result = asyncio.run(push(with_user(admin, secure, PRODUCER_USER), names.raw, items))
    assert len(result.sent) == 20 and not result.rejected
    rules = str(PROJECT / "seeds" / "rules.yaml")
    published = newsflow(with_user(admin, secure, RULES_USER), "rules", "publish", rules)
    assert published.returncode == 0, published.stderr

    # Verify: every article enriched, the rules follower read its topic, nothing private exported.
    log = asyncio.run(collect_outcomes(admin, result.sent_positions, timeout=120, check=worker.check))
    assert not log.missing and {topic for topic, _, _ in log.first().values()} == {names.enriched}
    deadline = time.monotonic() + 30
    while 'newsflow_rule_reloads_total{result="loaded"}' not in metrics_page(admin):
        assert time.monotonic() < deadline, "the worker never loaded the published rules"
        time.sleep(0.5)
    page, faust_page = metrics_page(admin), metrics_page(admin, "/metrics/faust")
    assert 'newsflow_messages_in_total{stage="ingest"} 20.0' in page and "faust_" in faust_page
    for private in (phrase, title, *secure.passwords.values()):
        assert private not in page and private not in faust_page

    worker.stop()
    worker_log = worker.log_path.read_text(errors="replace")
    # The log does cover the authentications, where a careless client would print a password.
    assert f"Authenticated as {WORKER_USER} via SCRAM-SHA-512" in worker_log
    # The worker needed nothing beyond its ACLs.
    assert "Not authorized" not in worker_log and "AuthorizationFailed" not in worker_log
    for password in secure.passwords.values():
        assert password not in worker_log + published.stdout + published.stderr


@pytest.mark.parametrize("command", [["push", "ARTICLES"], ["worker"], ["topics", "create"], ["topics", "list"]])
def test_a_wrong_password_ends_the_command_promptly_saying_authentication(secure, tmp_path, command):
    right = secure.passwords[WORKER_USER]
    wrong = "not-" + right
    settings = own(secure.as_user(WORKER_USER), tmp_path).model_copy(update={"kafka_sasl_password": SecretStr(wrong)})
    articles = tmp_path / "articles.jsonl"
    articles.write_text(f"{raw_bytes().decode()}\n")
    started = time.monotonic()
    run = newsflow(settings, *[str(articles) if a == "ARTICLES" else a for a in command], timeout=REFUSAL_LIMIT)
    assert run.returncode == 1
    assert time.monotonic() - started < REFUSAL_LIMIT
    assert f"rejected SASL authentication of user '{WORKER_USER}'" in run.stderr
    assert "NEWSFLOW_KAFKA_SASL_PASSWORD" in run.stderr
    assert "Traceback" not in run.stderr
    assert wrong not in run.stdout + run.stderr and right not in run.stdout + run.stderr


def test_config_prints_the_security_settings_but_not_the_password(secure, tmp_path):
    settings = own(secure.as_user(WORKER_USER), tmp_path)
    run = newsflow(settings, "config", timeout=30)
    assert run.returncode == 0, run.stderr
    assert "SASL_SSL" in run.stdout and str(settings.kafka_ssl_cafile) in run.stdout
    assert "**********" in run.stdout and secure.passwords[WORKER_USER] not in run.stdout + run.stderr
