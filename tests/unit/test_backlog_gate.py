"""When a worker stops and resumes fetching raw articles for its dedup agent's sake."""

from service.backlog_gate import DedupBacklogGate


def test_behind_counts_from_what_dedup_took_or_else_the_committed_offset():
    gate = DedupBacklogGate(limit=10)
    assert gate.behind(None, 0) == 0  # the partition is another worker's
    assert gate.behind(1_000, committed=400) == 600
    assert gate.behind(1_000) == 1_000  # a new group starts at the earliest offset
    gate.reached(989)
    assert gate.behind(1_000, committed=400) == 10


def test_this_workers_acknowledged_requests_count_before_a_fetch_shows_them():
    # The consumer's highwater moves only when the partition is fetched, and a raw backlog
    # crowds those fetches out: at the start of a 4,000-message drain it stayed at 3 while the
    # ingest agent wrote 2,848 requests.
    gate = DedupBacklogGate(limit=10)
    gate.reached(2)
    for offset in range(3, 2_848):
        gate.written(offset)
    assert gate.behind(3) == 2_845
    gate.written(5)  # acknowledgements of different batches may come out of order
    assert gate.behind(3) == 2_845


def test_holds_past_the_limit_and_releases_at_half_of_it_once_each():
    gate = DedupBacklogGate(limit=10, max_hold_seconds=60)
    gate.reached(89)
    assert not gate.should_hold(100, None, now=0)  # 10 behind: within the limit
    assert not gate.should_release(100, None, now=0)  # nothing held
    gate.written(100)
    assert gate.should_hold(100, None, now=1)  # 11 behind
    assert not gate.should_hold(100, None, now=2)  # already held
    gate.reached(94)
    assert not gate.should_release(101, None, now=3)  # 6 behind
    gate.reached(95)
    assert gate.should_release(101, None, now=4)  # 5 behind
    assert not gate.should_release(101, None, now=5)


def test_a_hold_nobody_releases_ends_after_max_hold_seconds():
    gate = DedupBacklogGate(limit=10, max_hold_seconds=5)
    gate.reached(0)
    assert gate.should_hold(100, None, now=10)
    assert not gate.should_release(100, None, now=14.9)
    assert gate.should_release(100, None, now=15)


def test_a_rebalance_forgets_the_position_and_the_hold():
    gate = DedupBacklogGate(limit=10)
    gate.reached(0)
    gate.written(150)
    assert gate.should_hold(100, None, now=0)
    gate.forget()
    assert gate.behind(100, committed=95) == 5
    assert not gate.should_release(100, 95, now=1)  # nothing held any more
    assert gate.should_hold(200, 95, now=2)
