"""Workarounds for faust-streaming, applied once, by `service.app`: a race that loses messages,
and a producer-buffer limit that floods the log.

At the end of table recovery (and of every rebalance) faust's `Recovery.on_recovery_completed`
resumes the stream partitions, awaits `consumer.perform_seek()`, then calls
`app.flow_control.resume()`, which empties every stream queue, and only then
`consumer.resume_flow()`. When recovery had to read a changelog, the fetcher is already running
with the flow on, so during the `perform_seek()` await it delivers stream messages into the
queues, and `flow_control.resume()` throws away those the agents have not taken yet.
`perform_seek()` is what should bring them back, but aiokafka's `seek_to_committed` only seeks
partitions with a committed offset > 0: on a topic the consumer group never committed, the fetch
position stays after the dropped messages, they are never fetched again, and faust commits the
later offsets over them (faust-streaming issue #596). `newsflow demo` lost raw offset 0 this way.

Fix: stop the consumer's flow before that sequence. The fetcher then delivers nothing until
`resume_flow()` at its end, after the queues were cleared, from the position perform_seek set.

Table writes go to their changelogs through faust's producer buffer. Whenever it holds more
than `ProducerBuffer.max_messages` (100) the streams stop, faust logs a WARNING and an INFO line,
and waits until 100 were sent. The dedup step writes about three changelog records per
article, so under load the buffer sits at that limit: 4,878 such lines over a 200k-article
drain. Raising it to PRODUCER_BUFFER_MESSAGES (a second or so of changelog writes, a few MB)
silenced them and left the drain rate as it was (374-379 vs 378-382 articles/s, 10k drains).
"""

from faust.tables.recovery import Recovery
from faust.transport.producer import ProducerBuffer

PRODUCER_BUFFER_MESSAGES = 2_000

_ORIGINALS = {
    "on_recovery_completed": Recovery.on_recovery_completed,
    "_resume_streams": Recovery._resume_streams,
}


def _stopping_flow_first(original):
    async def wrapper(self: Recovery, generation_id: int = 0) -> None:
        # Every path in `original` that resumes stream partitions ends with resume_flow();
        # the early return ("Recovery rebalancing again") leaves it to the next rebalance.
        self.app.consumer.stop_flow()
        await original(self, generation_id)

    wrapper.__name__ = original.__name__
    wrapper.__wrapped__ = original
    return wrapper


def apply() -> None:
    for name, original in _ORIGINALS.items():
        if getattr(Recovery, name) is original:
            setattr(Recovery, name, _stopping_flow_first(original))
    ProducerBuffer.max_messages = max(ProducerBuffer.max_messages, PRODUCER_BUFFER_MESSAGES)
