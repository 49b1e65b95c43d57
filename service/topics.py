"""Each Faust topic, declared once. Values travel as raw bytes; `service.codec` parses them."""

from service.app import app, settings
from service.topic_names import TopicNames

names = TopicNames.from_settings(settings)


def _raw_topic(name: str):
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


raw = _raw_topic(names.raw)
enriched = _raw_topic(names.enriched)
duplicates = _raw_topic(names.duplicates)
invalid = _raw_topic(names.invalid)
alerts = _raw_topic(names.alerts)
dedup_requests = _raw_topic(names.dedup_requests)
