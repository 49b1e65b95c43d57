"""Alert events also go to Alertmanager when NEWSFLOW_ALERTMANAGER_URL is set."""

from service.agents.ingest import RULEBOOK
from service.alertmanager import AlertmanagerSink
from service.app import app, settings
from service.core.rules import Rule
from service.metrics import METRICS

SINK = None
if settings.alertmanager_url:
    SINK = AlertmanagerSink(settings.alertmanager_url, timeout=settings.alertmanager_timeout,
                            resend_seconds=settings.alertmanager_resend_seconds, metrics=METRICS)

def _cooldown(rule_id: str) -> int:
    rule = RULEBOOK.rules.by_id.get(rule_id)
    # A rule reloaded away between deciding and forwarding: the rules' default cooldown.
    return rule.cooldown if rule is not None else Rule.cooldown


def forward_to_alertmanager(alert: dict) -> None:
    """Hand one alert event to the sink; does nothing when no Alertmanager is configured."""
    if SINK is not None:
        SINK.observe(alert, _cooldown(alert["rule_id"]))


@app.task
async def post_to_alertmanager() -> None:
    if SINK is not None:
        await SINK.run()
