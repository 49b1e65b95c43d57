"""`service.consumer._partitions`: a topic missing from one metadata answer is asked for again."""

import asyncio
import time

import pytest

from service.consumer import _partitions
from service.errors import NewsflowError


class _Client:
    def __init__(self, owner):
        self.owner = owner

    async def force_metadata_update(self):
        self.owner.updates += 1


class _Consumer:
    """Metadata that lists `topic` with `parts` only from the `shows_after`-th update on."""

    def __init__(self, topic, parts, shows_after):
        self.topic, self.parts, self.shows_after, self.updates = topic, parts, shows_after, 0
        self._client = _Client(self)

    def partitions_for_topic(self, topic):
        if topic == self.topic and self.updates >= self.shows_after:
            return set(self.parts)
        return None


def test_a_topic_that_shows_up_in_a_later_metadata_answer_is_read():
    consumer = _Consumer("articles.raw", {1, 0}, shows_after=3)
    tps = asyncio.run(_partitions(consumer, ["articles.raw"], settle=5.0))
    assert [(tp.topic, tp.partition) for tp in tps] == [("articles.raw", 0), ("articles.raw", 1)]
    assert consumer.updates == 3


def test_a_topic_already_known_needs_no_metadata_request():
    consumer = _Consumer("articles.raw", {0}, shows_after=0)
    assert len(asyncio.run(_partitions(consumer, ["articles.raw"]))) == 1
    assert consumer.updates == 0


def test_a_topic_that_never_shows_up_is_reported_missing_once_the_settle_time_is_over():
    consumer = _Consumer("articles.raw", {0}, shows_after=10**6)
    started = time.monotonic()
    with pytest.raises(NewsflowError, match="topic 'other' does not exist"):
        asyncio.run(_partitions(consumer, ["other"], settle=0.5))
    waited = time.monotonic() - started
    assert 0.45 <= waited < 3.0, waited
    assert consumer.updates >= 3
