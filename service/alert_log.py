"""What the alerts topic already holds: the (alert id, update number) pairs sent since a time.

After a crash the dedup step re-processes the requests past its last committed offset. Its
alert state may or may not have kept what the lost process did, and that process may or may
not have got its alert events out. Comparing the replayed decisions with this set tells which
updates to send and which were sent already (see `service/agents/dedup.py`).
"""

import time

from aiokafka import TopicPartition

from service import codec
from service.consumer import _partitions, _start, make_consumer
from service.settings import Settings


async def sent_updates(settings: Settings, topic: str, since_ms: int, timeout: float = 120.0) -> set[tuple[str, int]]:
    """(alert_id, seq) of every event on `topic` with a timestamp at or after `since_ms`.

    Raises TimeoutError when the topic cannot be read to its end within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    consumer = make_consumer(settings)
    await _start(consumer, settings)
    sent: set[tuple[str, int]] = set()
    try:
        tps = await _partitions(consumer, [topic])
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        starts = await consumer.offsets_for_times({tp: since_ms for tp in tps})
        remaining: dict[TopicPartition, int] = {}
        for tp in tps:
            found = starts.get(tp)
            offset = found.offset if found is not None else ends[tp]
            if offset < ends[tp]:
                consumer.seek(tp, offset)
                remaining[tp] = ends[tp]
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end within {timeout:.0f}s")
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    try:
                        event = codec.loads(record.value)
                        sent.add((event["alert_id"], int(event.get("seq", 0))))
                    except (codec.JSONDecodeError, KeyError, TypeError, ValueError):
                        continue
            for tp in list(remaining):
                if await consumer.position(tp) >= remaining[tp]:
                    del remaining[tp]
        return sent
    finally:
        await consumer.stop()
