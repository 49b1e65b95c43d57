"""The broker and client ceiling: a bare aiokafka consumer group copying a topic to another.

No parsing, no state, one hop: whatever rate this reaches on the same messages bounds what
any aiokafka-based worker could reach on this machine and broker.
"""

import asyncio
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from service.admin import topic_configs
from service.kafka_security import client_options
from service.producer import make_producer
from service.settings import Settings


async def create_topic(settings: Settings, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_list, **client_options(settings))
    try:
        await admin.start()
        await admin.create_topics([NewTopic(name, partitions, settings.topic_replication,
                                            topic_configs=topic_configs(settings))])
    finally:
        await admin.close()


async def copy(settings: Settings, source: str, sink: str, count: int, timeout: float = 600.0) -> dict[str, Any]:
    """Copy the first `count` records of `source` to `sink` (which must exist) through a new
    consumer group; the rate runs from the first record fetched to the last one acknowledged."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=settings.bootstrap_list,
        group_id=f"bench-passthrough-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=settings.max_message_bytes,
        fetch_max_bytes=max(settings.max_message_bytes, 52428800),
        client_id="newsflow-bench-passthrough",
        **client_options(settings),
    )
    producer = make_producer(settings, client_id="newsflow-bench-passthrough")
    copied, size, first, first_cpu = 0, 0, None, 0.0
    deadline = time.monotonic() + timeout
    try:
        # Started inside the try: a client that failed to start still has connections to close.
        await consumer.start()
        await producer.start()
        while copied < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            if first is None and batches:
                first, first_cpu = time.perf_counter(), time.process_time()
            sent = []
            for records in batches.values():
                for record in records:
                    sent.append(await producer.send(sink, value=record.value, key=record.key))
                    size += len(record.value or b"")
            # One batch in flight at a time bounds memory; the consumer keeps prefetching meanwhile.
            await asyncio.gather(*sent)
            copied += len(sent)
        finished, cpu = time.perf_counter(), time.process_time() - first_cpu
    finally:
        await producer.stop()
        await consumer.stop()
    seconds = finished - (first or finished)
    return {
        "messages": copied,
        "seconds": seconds,
        "articles_per_second": copied / seconds if seconds else 0.0,
        "mb_per_second": size / seconds / 1e6 if seconds else 0.0,
        # This process does nothing else meanwhile: its CPU is one consume and one produce per record.
        "cpu_ms_per_message": 1000 * cpu / copied if copied and first is not None else None,
        "complete": copied >= count,
    }


async def run(settings: Settings, source: str, count: int, partitions: int) -> dict[str, Any]:
    """Copy `count` records of `source` to a new sink topic of `partitions` partitions."""
    sink = f"{source}.passthrough-{uuid.uuid4().hex[:8]}"
    await create_topic(settings, sink, partitions)
    return await copy(settings, source, sink, count)
