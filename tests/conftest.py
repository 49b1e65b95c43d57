import os
import uuid
from pathlib import Path

import pytest

from service.settings import ENV_PREFIX, Settings, get_settings
from tests.support.broker import REQUIRE_BROKER, find_broker, free_port

SHARED_SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
PROJECT_SEEDS = Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch):
    """No test sees the developer's NEWSFLOW_* variables; settings are re-read per test."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """Bootstrap servers of a real broker; skips without one, fails under NEWSFLOW_REQUIRE_BROKER=1."""
    found, tried = find_broker(tmp_path_factory.mktemp("kafka"))
    if found is None:
        message = "no Kafka broker: " + "; ".join(tried)
        if REQUIRE_BROKER:
            pytest.fail(message + " (NEWSFLOW_REQUIRE_BROKER=1)")
        pytest.skip(message)
    yield found.bootstrap
    found.stop()


@pytest.fixture
def settings_factory(broker, tmp_path):
    """Settings on the test broker with topics, group and state of their own."""

    def make(**overrides) -> Settings:
        tag = uuid.uuid4().hex[:10]
        values = dict(
            kafka_bootstrap=broker,
            topic_prefix=f"t{tag}.",
            app_id=f"nf-{tag}",
            data_dir=tmp_path / f"state-{tag}",
            web_port=free_port(),
            topic_partitions=4,
        )
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def shared_seeds() -> Path:
    if not SHARED_SEEDS.is_dir():
        pytest.skip("../shared/seeds is not present")
    return SHARED_SEEDS
