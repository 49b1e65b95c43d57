"""The stall watch warns once per stall, only while messages wait and nothing is taken."""

from service.stall_watch import StallWatch


def test_warns_once_after_idle_checks_with_messages_waiting() -> None:
    watch = StallWatch(idle_checks=2)
    assert not watch.idle(10)  # first reading: nothing to compare with
    assert watch.idle(10) and not watch.stalled(36)
    assert watch.idle(10) and watch.stalled(36)
    assert watch.idle(10) and not watch.stalled(36)  # once per stall


def test_no_warning_without_waiting_messages_or_while_taking() -> None:
    watch = StallWatch(idle_checks=2)
    watch.idle(0)
    for _ in range(5):
        assert watch.idle(0) and not watch.stalled(0)
    for taken in range(1, 6):
        assert not watch.idle(taken)  # taking messages: never asked about waiting ones


def test_a_new_stall_after_progress_warns_again() -> None:
    watch = StallWatch(idle_checks=1)
    watch.idle(5)
    assert watch.idle(5) and watch.stalled(3)
    assert not watch.idle(6)
    assert watch.idle(6) and watch.stalled(3)
    # Waiting drops to zero between idle checks: the count of idle checks starts over.
    watch2 = StallWatch(idle_checks=2)
    watch2.idle(1)
    assert watch2.idle(1) and not watch2.stalled(4)
    assert watch2.idle(1) and not watch2.stalled(0)
    assert watch2.idle(1) and not watch2.stalled(4)
    assert watch2.idle(1) and watch2.stalled(4)
