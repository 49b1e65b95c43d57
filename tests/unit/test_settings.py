from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import Settings, get_settings
from service.topic_names import TopicNames


def test_env_prefix_and_defaults(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_KAFKA_BOOTSTRAP", "a:1, b:2")
    monkeypatch.setenv("NEWSFLOW_TOPIC_PREFIX", "stage.")
    settings = get_settings()
    assert settings.bootstrap_list == ["a:1", "b:2"]
    assert settings.broker_url == "kafka://a:1;kafka://b:2"
    assert settings.web_host == "127.0.0.1"
    assert settings.max_article_bytes == 2 * 1024 * 1024


def test_settings_are_frozen():
    with pytest.raises(ValidationError):
        Settings().web_port = 1


def test_bad_values_are_rejected_clearly(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_WEB_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="web_port"):
        Settings()


def test_as_env_round_trips():
    original = Settings(topic_prefix="x.", data_dir=Path("/tmp/nf"), max_json_depth=5)
    assert Settings(**{k.removeprefix("NEWSFLOW_").lower(): v for k, v in original.as_env().items()}) == original


@pytest.mark.parametrize(
    ("prefix", "name", "expected"),
    [
        ("", "enriched", "articles.enriched"),
        ("p.", "enriched", "p.articles.enriched"),
        ("p.", "articles.invalid", "p.articles.invalid"),
        ("p.", "alerts", "p.alerts"),
        ("p.", "some.other.topic", "some.other.topic"),
    ],
)
def test_topic_names_resolve(prefix, name, expected):
    assert TopicNames.from_settings(Settings(topic_prefix=prefix)).resolve(name) == expected


def test_outcome_topics_are_the_three_sinks():
    names = TopicNames.from_settings(Settings())
    assert names.outcomes() == ["articles.enriched", "articles.duplicates", "articles.invalid"]
