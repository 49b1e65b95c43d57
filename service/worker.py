"""Starting the Faust worker with newsflow's settings."""

import asyncio
import logging

from service.admin import ensure_topics
from service.settings import Settings


def run_worker(settings: Settings) -> None:
    """Create missing topics, then run the worker until SIGTERM/SIGINT (this call does not return)."""
    created = asyncio.run(ensure_topics(settings))
    if created:
        logging.getLogger(__name__).info("created topics %s", created)
    # Imported here: importing the app reads settings and builds the Faust app.
    from faust.worker import Worker

    from service.app import app

    app.discover()
    worker = Worker(app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
