"""The ingest agent in memory: Faust's test context, outbound sends captured."""

from unittest.mock import AsyncMock

import pytest

from service import codec
from tests.support.factories import raw_bytes


@pytest.fixture
def agent_env(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(tmp_path))
    from service import topics
    from service.agents import ingest

    sent = {"dedup": AsyncMock(), "invalid": AsyncMock()}
    monkeypatch.setattr(topics.dedup_requests, "send", sent["dedup"])
    monkeypatch.setattr(topics.invalid, "send", sent["invalid"])
    return ingest, sent


async def _put_all(agent_fn, values):
    async with agent_fn.test_context() as agent:
        for key, value in values:
            await agent.put(value=value, key=key)


def test_ingest_agent_routes_each_message_to_one_topic(agent_env):
    import asyncio

    ingest, sent = agent_env
    values = [(b"a", raw_bytes(id="good-1")), (b"b", b"not json"), (None, raw_bytes(id="good-2", body=""))]
    asyncio.run(_put_all(ingest.ingest_articles, values))
    requests = [codec.loads(c.kwargs["value"]) for c in sent["dedup"].await_args_list]
    invalid = [codec.loads(c.kwargs["value"]) for c in sent["invalid"].await_args_list]
    assert [c.kwargs["key"] for c in sent["dedup"].await_args_list] == [b"good-1"]
    assert requests[0]["article"]["id"] == "good-1" and requests[0]["fingerprint"]["article_id"] == "good-1"
    assert [d["error"]["code"] for d in invalid] == ["not_json", "empty_body"]
    assert [c.kwargs["key"] for c in sent["invalid"].await_args_list] == [b"b", None]
