"""The topic contract is plain Kafka + JSON: kcat (librdkafka) can produce and consume it."""

import json
import shutil
import subprocess
import time

import pytest

from tests.support.broker import REQUIRE_BROKER
from tests.support.factories import make_article
from service.topic_names import TopicNames


@pytest.fixture
def kcat():
    path = shutil.which("kcat") or shutil.which("kafkacat")
    if path is None:
        message = "kcat is not installed (Debian package kcat; `make test` installs it as root)"
        if REQUIRE_BROKER:
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_kcat_produces_raw_and_reads_enriched(kcat, settings_factory, start_worker):
    settings = settings_factory()
    names = TopicNames.from_settings(settings)
    start_worker(settings)
    lines = [json.dumps(make_article(id=f"kcat-{i}")) for i in range(3)] + ["plainly not json"]
    produced = subprocess.run(
        [kcat, "-P", "-b", settings.kafka_bootstrap, "-t", names.raw, "-K", "\t"],
        input="".join(f"key-{i}\t{line}\n" for i, line in enumerate(lines)),
        capture_output=True, text=True, timeout=30,
    )
    assert produced.returncode == 0, produced.stderr

    enriched, invalid = [], []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (len(enriched) < 3 or len(invalid) < 1):
        enriched = _consume(kcat, settings.kafka_bootstrap, names.enriched)
        invalid = _consume(kcat, settings.kafka_bootstrap, names.invalid)
        time.sleep(0.5)
    assert sorted((key, json.loads(value)["id"]) for key, value in enriched) == [
        (f"kcat-{i}", f"kcat-{i}") for i in range(3)
    ]
    ((key, value),) = invalid
    assert key == "key-3" and json.loads(value)["error"]["code"] == "not_json"


def _consume(kcat: str, bootstrap: str, topic: str) -> list[tuple[str, str]]:
    out = subprocess.run(
        [kcat, "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n"],
        capture_output=True, text=True, timeout=30,
    )
    return [tuple(line.split("\t", 1)) for line in out.stdout.splitlines() if line]
