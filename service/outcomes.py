"""Finding the outcome of raw messages: which outcome topic each (partition, offset) reached."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from service import codec
from service.consumer import read
from service.settings import Settings
from service.topic_names import TopicNames

Position = tuple[int, int]


@dataclass
class OutcomeLog:
    """Every outcome event seen for the expected raw positions, repeats included."""

    expected: set[Position]
    events: dict[Position, list[tuple[str, str, bytes]]] = field(default_factory=dict)  # topic, id, value

    def add(self, pos: Position, topic: str, event_id: str, value: bytes) -> None:
        self.events.setdefault(pos, []).append((topic, event_id, value))

    @property
    def complete(self) -> bool:
        return len(self.events) >= len(self.expected)

    @property
    def missing(self) -> set[Position]:
        return self.expected - set(self.events)

    @property
    def repeats(self) -> int:
        """Outcome events beyond the first per raw message (at-least-once redelivery)."""
        return sum(len(v) - 1 for v in self.events.values())

    def first(self) -> dict[Position, tuple[str, str, bytes]]:
        return {pos: evs[0] for pos, evs in self.events.items()}

    def conflicting(self) -> set[Position]:
        """Raw messages that reached more than one outcome topic or more than one id."""
        return {pos for pos, evs in self.events.items() if len({(t, i) for t, i, _ in evs}) > 1}


async def collect_outcomes(
    settings: Settings,
    expected: set[Position],
    *,
    start: dict[TopicPartition, int] | None = None,
    timeout: float = 120.0,
    linger: float = 0.0,
    check: Callable[[], None] | None = None,
) -> OutcomeLog:
    """Read the outcome topics until every expected raw position has an outcome (or `timeout`).

    `linger` keeps reading that many seconds after completion, to catch repeats.
    `check` is called on every event and may raise to abort (e.g. when a worker died).
    """
    names = TopicNames.from_settings(settings)
    log = OutcomeLog(set(expected))
    completed_at: list[float] = []

    def on_message(record) -> bool:
        if check:
            check()
        try:
            event = codec.loads(record.value)
            raw = event["raw"]
        except (codec.JSONDecodeError, KeyError, TypeError):
            return False
        pos = (raw.get("partition"), raw.get("offset"))
        if raw.get("topic") == names.raw and pos in log.expected:
            log.add(pos, record.topic, str(event.get("id")), record.value)
        return False

    def until() -> bool:
        if check:
            check()
        if not log.complete:
            return False
        if not completed_at:
            completed_at.append(time.monotonic())
        return time.monotonic() - completed_at[0] >= linger

    await read(settings, names.outcomes(), on_message, start=start, follow=True, timeout=timeout, until=until)
    return log
