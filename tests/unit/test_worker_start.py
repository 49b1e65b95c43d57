"""Starting the worker process: what `run_worker` does before Faust takes over."""

import gc
import sys
import types

import pytest

from service import worker


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()


def test_the_startup_heap_is_frozen_before_faust_runs_the_worker(monkeypatch, tmp_path, unfrozen):
    """Full collections must not rescan what start-up loaded (modules, the knowledge base, the
    app): by the time Faust's worker runs, those are out of the collector's view."""
    seen: dict[str, int] = {}

    class FakeWorker:
        def __init__(self, app, **kwargs):
            self.app = app

        def execute_from_commandline(self):
            seen["frozen"] = gc.get_freeze_count()
            seen["tagger_frozen"] = int(gc.is_tracked(tagger_records) and tagger_records_frozen())

    async def no_topics(settings):
        return []

    def tagger_records_frozen():
        # A frozen object is in no generation gc.get_objects() lists.
        return all(obj is not tagger_records for g in range(3) for obj in gc.get_objects(g))

    from service.agents import ingest

    tagger_records = ingest.KNOWLEDGE.tagger._records
    monkeypatch.setattr(worker, "ensure_topics", no_topics)
    monkeypatch.setitem(sys.modules, "faust.worker", types.SimpleNamespace(Worker=FakeWorker))
    from service.settings import get_settings

    worker.run_worker(get_settings().model_copy(update={"data_dir": tmp_path}))
    assert seen["frozen"] > 10_000
    assert seen["tagger_frozen"] == 1
