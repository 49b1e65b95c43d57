"""Notices a worker that has work waiting and takes none of it.

A worker whose agents take no message while its stream partitions have messages waiting is
stuck, whatever the cause (a fetch that never resumed, a partition left paused). Once in a CI run
a worker that had restored its tables from a changelog reported "Worker ready" and then took none
of the 36 messages waiting for it in two minutes, without a line in its log. The watch logs a
warning with its consumer's flow and partition states, so the next such stall says where it is.
This class decides; `service.agents.watch` reads the counts and writes the warning.
"""


class StallWatch:
    """Checked every few seconds: `idle` with the agents' message count, then, when idle,
    `stalled` with the messages waiting on this worker's stream partitions."""

    def __init__(self, idle_checks: int = 2) -> None:
        self.idle_checks = idle_checks
        self._taken: int | None = None
        self._idle_with_lag = 0
        self._warned = False

    def idle(self, taken: int) -> bool:
        """Record the agents' message count; True when it has not moved since the last check."""
        still = taken == self._taken
        self._taken = taken
        if not still:
            self._idle_with_lag = 0
            self._warned = False
        return still

    def stalled(self, waiting: int) -> bool:
        """After an idle check: True, once per stall, when messages were waiting at
        `idle_checks` idle checks in a row."""
        if waiting <= 0:
            self._idle_with_lag = 0
            return False
        self._idle_with_lag += 1
        if self._idle_with_lag < self.idle_checks or self._warned:
            return False
        self._warned = True
        return True
