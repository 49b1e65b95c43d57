"""How events look to a person in `tail` and `demo`."""

from service import codec


def _short(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def describe(value: bytes | None) -> str:
    """One line for any newsflow event, chosen by the fields it has."""
    if value is None:
        return "(no value)"
    try:
        event = codec.loads(value)
    except codec.JSONDecodeError:
        return _short(value.decode("utf-8", "replace"), 160)
    if not isinstance(event, dict):
        return _short(str(event), 160)
    if "error" in event:
        err = event["error"]
        return f"{event.get('id')}  DEAD LETTER {err.get('code')}: {_short(err.get('message'), 110)}"
    if "duplicate_of" in event:
        sim = event.get("similarity")
        sim_text = f" ({sim:.2f})" if isinstance(sim, (int, float)) else ""
        return f"{event.get('id')}  {event.get('kind')} duplicate of {event.get('duplicate_of')}{sim_text}"
    if "alert_id" in event:
        return f"{event.get('alert_id')}  [{event.get('severity')}] {event.get('rule_name')} ({event.get('status')})"
    if "body" in event and "title" in event:
        line = f"{event.get('id')}  {event.get('source') or '-'}  {_short(event.get('title'), 90)}"
        names = [e.get("name") for e in (event.get("entities") or [])[:4] if isinstance(e, dict)]
        themes = [t.get("id") for t in (event.get("themes") or [])[:2] if isinstance(t, dict)]
        if names or themes:
            line += f"\n      entities: {', '.join(map(str, names)) or '-'}; themes: {', '.join(map(str, themes)) or '-'}"
        return line
    return _short(value.decode("utf-8", "replace"), 160)
