"""Percentile maths of the latency benchmark."""

import numpy as np
import pytest

from service.bench.latency import percentile, summary, windows


@pytest.mark.parametrize("values, q, expected", [
    ([5.0], 99, 5.0),
    ([1.0, 2.0], 50, 1.5),
    ([3.0, 1.0, 2.0], 50, 2.0),
    ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
    ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
    ([1.0, 2.0, 3.0, 4.0], 95, 3.85),
    (list(range(1, 101)), 99, 99.01),
])
def test_percentile_interpolates_between_closest_ranks(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_agrees_with_numpy_on_a_skewed_sample():
    rng = np.random.default_rng(3)
    values = rng.lognormal(-3, 1, 5000).tolist()
    for q in (50, 95, 99, 99.9):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary_orders_the_tail():
    result = summary([0.01] * 98 + [0.5, 2.0])
    assert result["p50"] == pytest.approx(0.01)
    assert result["p50"] <= result["p95"] <= result["p99"] <= result["max"] == 2.0


def test_windows_group_latencies_by_when_the_article_was_sent():
    # Sent at 100.0-129.9 s: a stall hits the articles sent in the second window only.
    # One article of the last window held 0.9 s in the worker.
    samples = [(100 + k / 10, 5.0 if 110 <= 100 + k / 10 < 120 else 0.1, 0.9 if k == 250 else 0.05)
               for k in range(300)]
    result = windows(samples, 10)
    assert [w["from"] for w in result] == [0, 10, 20]
    assert [w["count"] for w in result] == [100, 100, 100]
    assert [w["p50"] for w in result] == [0.1, 5.0, 0.1]
    assert [w["worker_p50"] for w in result] == [0.05, 0.05, 0.05]
    assert [w["worker_max"] for w in result] == [0.05, 0.05, 0.9]
    assert windows([]) == []


def test_cpu_windows_share_each_interval_to_the_window_of_its_midpoint():
    from service.bench.latency import cpu_windows

    # Sampled each second from 0.5 s after the first send; the worker uses half a core, then a
    # whole one from 10 s on; the broker a steady 0.2; "gone" exits after 3 s (its counter reads 0).
    samples = []
    for k in range(20):
        t = 100.5 + k
        worker = 0.5 * min(t - 100, 10) + max(0.0, t - 110)
        samples.append((t, {"worker": worker, "broker": 0.2 * (t - 100), "gone": 3.0 if k < 3 else 0.0}))
    result = cpu_windows(samples, first=100.0, seconds=10)
    assert list(result) == [0, 10]
    assert result[0]["worker"] == pytest.approx(0.5, abs=0.01)
    assert result[10]["worker"] == pytest.approx(1.0, abs=0.06)
    assert result[0]["broker"] == result[10]["broker"] == pytest.approx(0.2)
    assert result[0]["gone"] == result[10]["gone"] == 0.0
    assert cpu_windows(samples[:1], first=100.0) == {}


def test_cpu_windows_leave_out_what_was_sampled_before_the_first_send():
    from service.bench.latency import cpu_windows

    samples = [(90.0, {"x": 0.0}), (91.0, {"x": 1.0}), (101.0, {"x": 2.0}), (102.0, {"x": 2.5})]
    assert cpu_windows(samples, first=100.0, seconds=10) == {0: {"x": 0.5}}


def test_machine_and_process_cpu_come_from_proc():
    import os

    from service.bench.latency import cpu_now

    before = cpu_now({"me": os.getpid()})
    sum(i * i for i in range(2_000_000))  # burns CPU in this process
    after = cpu_now({"me": os.getpid()})
    assert set(after) == {"me", "busy", "steal"}
    assert after["me"] > before["me"] and after["busy"] > before["busy"] and after["steal"] >= before["steal"] >= 0
