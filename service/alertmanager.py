"""Alerts to Alertmanager: POST /api/v2/alerts, off the agents' path.

The dedup agent hands each alert event to `observe`, which only updates a dict; one task
(`run`) POSTs what is due. So a slow or absent Alertmanager never holds up an article: its
alerts wait in the bounded `ActiveAlerts` set, where an update replaces the alert it updates.

The set lives in memory and is lost when the worker stops. Alertmanager still resolves those
alerts on time, because each carries `endsAt` = the end of its cooldown.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from service import codec
from service.core.rules.alertmanager import ActiveAlerts
from service.metrics import Metrics

log = logging.getLogger(__name__)
API_PATH = "/api/v2/alerts"
# Alertmanager takes any number per POST; batches keep one request's body and time modest.
BATCH = 500


class AlertmanagerSink:
    """Keeps Alertmanager's view of newsflow's alerts current: new and updated alerts at once,
    active ones again every `resend_seconds`, and each one resolved when its cooldown ends."""

    def __init__(self, url: str, *, timeout: float, resend_seconds: float, metrics: Metrics,
                 clock: Callable[[], float] = time.time) -> None:
        self.endpoint = url.rstrip("/") + API_PATH
        self.timeout = timeout
        self.resend_seconds = resend_seconds
        self.metrics = metrics
        self.clock = clock
        self.active = ActiveAlerts({})
        self._wake = asyncio.Event()

    def observe(self, event: dict[str, Any], cooldown: float) -> None:
        """Take one alert event (its rule's cooldown in seconds); never blocks."""
        dropped = self.active.observe(event, cooldown)
        if dropped:
            self.metrics.alertmanager_dropped.inc(dropped)
        self.metrics.alertmanager_active.set(len(self.active.state))
        self._wake.set()

    async def run(self) -> None:
        """POST what is due, then sleep until more is due or an alert arrives; until cancelled."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
            while True:
                # Cleared before flushing: an alert observed during the POST wakes the next round.
                self._wake.clear()
                try:
                    await self.flush(session)
                except Exception:
                    log.exception("sending alerts to Alertmanager failed")
                next_due = self.active.next_due(self.resend_seconds)
                wait = None if next_due is None else max(0.0, next_due - self.clock())
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except asyncio.TimeoutError:
                    pass

    async def flush(self, session: aiohttp.ClientSession) -> None:
        """POST every alert due now. A failed POST is retried by the next re-send; a resolved
        alert whose POST failed still ends in Alertmanager at its `endsAt`."""
        due = self.active.due(self.clock(), self.resend_seconds)
        self.metrics.alertmanager_active.set(len(self.active.state))
        alerts = due.active + due.resolved
        for start in range(0, len(alerts), BATCH):
            await self._post(session, alerts[start:start + BATCH])
        if due.active:
            self.metrics.alertmanager_alerts.labels("active").inc(len(due.active))
        if due.resolved:
            self.metrics.alertmanager_alerts.labels("resolved").inc(len(due.resolved))

    async def _post(self, session: aiohttp.ClientSession, alerts: list[dict[str, Any]]) -> None:
        try:
            async with session.post(self.endpoint, data=codec.dumps(alerts),
                                    headers={"Content-Type": "application/json"}) as response:
                if response.status >= 300:
                    body = (await response.text())[:300]
                    log.warning("Alertmanager at %s refused %d alerts: HTTP %d %s",
                                self.endpoint, len(alerts), response.status, body)
                    self.metrics.alertmanager_posts.labels("rejected").inc()
                    return
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            log.warning("Alertmanager at %s did not take %d alerts: %r", self.endpoint, len(alerts), e)
            self.metrics.alertmanager_posts.labels("failed").inc()
            return
        self.metrics.alertmanager_posts.labels("ok").inc()
