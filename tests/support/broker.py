"""Finding a Kafka broker for tests: env → the project's local broker → testcontainers → none."""

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from service.admin import probe
from service.kafka_local import free_port
from service.settings import Settings

# Read at import, before the autouse fixture scrubs NEWSFLOW_* from the environment.
EXTERNAL_BOOTSTRAP = os.environ.get("NEWSFLOW_KAFKA_BOOTSTRAP")
REQUIRE_BROKER = os.environ.get("NEWSFLOW_REQUIRE_BROKER", "") not in ("", "0", "false")


@dataclass
class Broker:
    bootstrap: str
    kind: str
    stop: Callable[[], None] = lambda: None


def need_java_and_maven(what: str) -> None:
    """Skip `what`, a test that runs a broker of its own, without java and mvn (fail instead
    under NEWSFLOW_REQUIRE_BROKER, as CI sets it)."""
    if not (shutil.which("java") and shutil.which("mvn")):
        message = f"{what} needs java and mvn to run a broker of its own"
        if REQUIRE_BROKER:
            pytest.fail(message)
        pytest.skip(message)


def _answers(bootstrap: str) -> bool:
    return asyncio.run(probe(Settings(kafka_bootstrap=bootstrap), timeout=5.0))


def _local(data_dir: Path) -> Broker | None:
    if not (shutil.which("java") and shutil.which("mvn")):
        return None
    from service.kafka_local import LocalKafka

    local = LocalKafka(
        Settings(
            kafka_port=free_port(), kafka_controller_port=free_port(), kafka_data_dir=data_dir, kafka_heap="768m"
        )
    )
    local.start()
    return Broker(local.bootstrap, "local", stop=local.stop)


def _docker_engine_answers() -> bool:
    try:
        import docker

        return bool(docker.from_env(timeout=3).ping())
    except Exception:
        return False


def _testcontainers() -> Broker | None:
    if not _docker_engine_answers():
        return None
    from testcontainers.kafka import KafkaContainer

    container = KafkaContainer("apache/kafka:4.1.1").with_kraft()
    container.start()
    return Broker(container.get_bootstrap_server(), "testcontainers", stop=container.stop)


def find_broker(data_dir: Path) -> tuple[Broker | None, list[str]]:
    """The first broker that can be had, and what was tried (for the skip/fail message)."""
    tried = []
    if EXTERNAL_BOOTSTRAP:
        if _answers(EXTERNAL_BOOTSTRAP):
            return Broker(EXTERNAL_BOOTSTRAP, "external"), tried
        tried.append(f"NEWSFLOW_KAFKA_BOOTSTRAP={EXTERNAL_BOOTSTRAP} did not answer")
    try:
        broker = _local(data_dir)
        if broker:
            return broker, tried
        tried.append("local broker: java or mvn not on PATH")
    except Exception as e:
        tried.append(f"local broker failed: {e}")
    try:
        broker = _testcontainers()
        if broker:
            return broker, tried
        tried.append("testcontainers: no Docker engine answered a ping")
    except Exception as e:
        tried.append(f"testcontainers failed: {e}")
    return None, tried
