"""Flow control between a worker's two agents: stop fetching raw articles while dedup is behind.

Both agents run on one event loop, on the messages Faust's polls bring. A poll brings what the
client fetched, up to the same bytes per partition: four raw partitions of ~4 KB messages against
the one dedup partition of ~12 KB requests. So in a raw backlog the ingest agent got ~14 messages
for each request the dedup agent got: in a 200k-message drain (newsflow bench's drain, sampled
each second) 133k raw messages had been ingested and 9k decided after four minutes, and the
dedup agent then ran alone for twelve. A backlog's outcomes waited for all of its ingest.

So this worker stops fetching the raw partitions while the dedup partition holds more than
`limit` requests it has not taken, and fetches them again when it is down to half that. The
work is the same; outcomes follow the backlog. This class decides; the agents act.
"""


class DedupBacklogGate:
    """`written` and `should_hold` are called by the ingest agent, `reached` and `should_release`
    by the dedup agent, all on one event loop."""

    def __init__(self, limit: int, max_hold_seconds: float = 5.0) -> None:
        self.limit = limit
        # Liveness: a hold this old is released whatever the counts say (a request that never
        # becomes readable, as in an aborted transaction, would otherwise hold raw forever).
        self.max_hold_seconds = max_hold_seconds
        self.next_offset: int | None = None
        # The end of this worker's own requests as the broker acknowledged them: fresher than the
        # consumer's highwater, which only a fetch of the partition moves.
        self.written_end: int | None = None
        self.held_since: float | None = None

    def behind(self, highwater: int | None, committed: int | None = None) -> int:
        """Requests on the dedup partition this worker has not taken yet; 0 when the partition
        is not assigned here (`highwater` None). Until the dedup agent takes its first request
        it counts from the `committed` offset (0 for a new group, which starts at the earliest)."""
        if highwater is None:
            return 0
        start = self.next_offset if self.next_offset is not None else committed or 0
        return max(0, max(highwater, self.written_end or 0) - start)

    def written(self, offset: int) -> None:
        """The broker has written one of this worker's requests at `offset`."""
        if self.written_end is None or offset >= self.written_end:
            self.written_end = offset + 1

    def reached(self, offset: int) -> None:
        """The dedup agent has taken the request at `offset`."""
        self.next_offset = offset + 1

    def should_hold(self, highwater: int | None, committed: int | None, now: float) -> bool:
        """Whether to stop fetching raw articles now (True once per hold)."""
        if self.held_since is not None or self.behind(highwater, committed) <= self.limit:
            return False
        self.held_since = now
        return True

    def should_release(self, highwater: int | None, committed: int | None, now: float) -> bool:
        """Whether to fetch raw articles again now (True once per hold)."""
        if self.held_since is None:
            return False
        if self.behind(highwater, committed) > self.limit // 2 and now - self.held_since < self.max_hold_seconds:
            return False
        self.held_since = None
        return True

    def forget(self) -> None:
        """After a rebalance: the partition may have moved, its position with it, and Faust
        fetches every assigned partition again."""
        self.next_offset = self.written_end = self.held_since = None
