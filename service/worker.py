"""Starting the Faust worker with newsflow's settings."""

import asyncio
import gc
import importlib
import logging
import os
import pkgutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from service.admin import ensure_topics
from service.errors import NewsflowError
from service.settings import Settings


def run_worker(settings: Settings) -> None:
    """Create missing topics, then run the worker until SIGTERM/SIGINT (this call does not return)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    created = asyncio.run(ensure_topics(settings))
    if created:
        logging.getLogger(__name__).info("created topics %s", created)
    # Imported here: importing the app reads settings and builds the Faust app.
    from faust.worker import Worker

    from service.app import app

    # Autodiscovery only warns when a module fails to import, and the worker would run
    # without that agent: import them first so a broken agent stops the start.
    for module in app.conf.autodiscover:
        import_all(module)
    app.discover()
    freeze_startup_heap()
    worker = Worker(app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()


def freeze_startup_heap() -> int:
    """Collect once, then move everything alive (modules, the knowledge base, the tagger, rules,
    Faust's app) out of the garbage collector's view; returns how many objects that froze.

    Why: every full collection scans every tracked object, and these ~210k are never garbage.
    A draining worker ran a full collection every ~28 s that freed nothing and stopped the
    event loop for ~110 ms each time (a gc callback in a worker draining 60,000 articles).
    Objects made later (state, messages) are collected as before.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def import_all(package: str) -> None:
    """Import a module, and every module of it when it is a package."""
    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        importlib.import_module(f"{package}.{info.name}")


class WorkerProcess:
    """A `newsflow worker` child process with its output in a log file; `module` and its
    arguments name another Faust worker to run the same way (the benchmark's Faust hop)."""

    def __init__(self, settings: Settings, log_path: Path, module: tuple[str, ...] = ("service", "worker")) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.log_path = log_path
        self._log = open(log_path, "ab")
        env = {**os.environ, **settings.as_env()}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *module],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Block until /readyz answers 200: partitions assigned, recovery done."""
        url = f"http://{self.settings.web_host}:{self.settings.web_port}/readyz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise NewsflowError(f"the worker was not ready within {timeout:.0f}s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final commit."""
        self.proc.kill()
        self.proc.wait()
        self._log.close()

    def check(self) -> None:
        """Raise when the worker has exited."""
        if self.proc.poll() is not None:
            raise NewsflowError(f"the worker exited with code {self.proc.returncode}; see {self.log_path}")

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode
