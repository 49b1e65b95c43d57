import asyncio

import pytest

from service.admin import ensure_topics
from service.worker import WorkerProcess


@pytest.fixture
def start_worker(tmp_path):
    """Start `newsflow worker` processes; each is stopped (or already killed) at teardown."""
    started: list[WorkerProcess] = []

    def start(settings, wait: bool = True) -> WorkerProcess:
        asyncio.run(ensure_topics(settings))
        worker = WorkerProcess(settings, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def stop_all() -> None:
        for worker in started:
            worker.stop()

    start.stop_all = stop_all
    yield start
    stop_all()
