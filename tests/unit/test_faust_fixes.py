"""The faust workaround: the flow is stopped before recovery resumes the stream partitions."""

import asyncio
from types import SimpleNamespace

from faust.tables.recovery import Recovery

from service import faust_fixes


def test_the_app_module_applies_the_fix():
    import service.app  # noqa: F401

    for name, original in faust_fixes._ORIGINALS.items():
        patched = getattr(Recovery, name)
        assert patched is not original
        assert patched.__wrapped__ is original
    faust_fixes.apply()  # idempotent
    assert Recovery.on_recovery_completed.__wrapped__.__name__ == "on_recovery_completed"


def test_flow_is_stopped_before_the_original_runs():
    calls = []

    async def original(self, generation_id=0):
        calls.append(("original", generation_id, self.app.consumer.flow_active))

    consumer = SimpleNamespace(flow_active=True)

    def stop_flow():
        calls.append(("stop_flow",))
        consumer.flow_active = False

    consumer.stop_flow = stop_flow
    recovery = SimpleNamespace(app=SimpleNamespace(consumer=consumer))
    asyncio.run(faust_fixes._stopping_flow_first(original)(recovery, 7))
    assert calls == [("stop_flow",), ("original", 7, False)]
