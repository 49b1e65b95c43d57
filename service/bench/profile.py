"""Where a worker's CPU goes: py-spy samples of a running worker, sorted into categories.

The benchmark's throughput targets compare the worker with the core loop; when the worker
falls short, this says why: the share of its on-CPU samples in newsflow's core, in state
stores, in the Kafka client, in Faust, in metrics and so on. py-spy reads the process from
outside (no code in the worker, no pause with --nonblocking), but still costs it some speed,
so the suite samples a drain of its own and never the one it times.
"""

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

SAMPLES_PER_SECOND = 100
# First match wins, walking each stack from its innermost frame outwards: a RocksDB read made
# by the dedup index counts as state, a regex run by the normaliser as core.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("state stores (RocksDB, Faust tables)", r"service/local_state|faust/stores/|faust/tables/|mode/utils/collections|rocksdict"),
    ("metrics (ours and Faust's sensors)", r"prometheus_client/|service/metrics|faust/sensors/"),
    ("Kafka client (aiokafka)", r"aiokafka/"),
    ("JSON of the hop between agents", r"service/codec"),
    ("core (normalise, fingerprint, tag, rules, decide)", r"service/core/"),
    ("agents' own code", r"service/agents/|service/alert"),
    ("Faust streams, producer buffer, mode", r"faust/|mode/"),
    ("asyncio event loop and sockets", r"asyncio/|selectors"),
    ("start-up (imports)", r"importlib|<frozen"),
)
OTHER = "other"
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def available() -> str | None:
    """The py-spy executable, or None when it is not installed."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(pid: int, out: Path, rate: int = SAMPLES_PER_SECOND) -> subprocess.Popen:
    """Start sampling `pid` into `out` (py-spy's raw collapsed stacks); stop it with `finish`."""
    exe = available()
    if exe is None:
        raise FileNotFoundError("py-spy is not installed (pip install py-spy)")
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--output", str(out),
         "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def finish(sampler: subprocess.Popen, timeout: float = 30.0) -> str:
    """Stop a sampler started by `record` (SIGINT makes py-spy write its file); returns what it
    wrote on stderr (its reason, when it wrote no samples)."""
    if sampler.poll() is None:
        sampler.send_signal(2)
    try:
        _, err = sampler.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        sampler.kill()
        _, err = sampler.communicate()
    return (err or b"").decode(errors="replace").strip()


def stacks(raw: str) -> Counter:
    """py-spy's raw format: one `frame;frame;... count` line per distinct stack, outermost first."""
    counted: Counter = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counted[stack] += int(count)
    return counted


def category(stack: str) -> str:
    """The category of one sampled stack (see CATEGORIES)."""
    for frame in reversed(stack.split(";")):
        for name, pattern in CATEGORIES:
            if re.search(pattern, frame):
                return name
    return OTHER


def ms_per_article(raw: str, rate: int, articles: int) -> dict[str, float]:
    """Sampled time on CPU per article by category (most first), in ms: each sample stands for
    1/`rate` s of one thread running."""
    by_category: Counter = Counter()
    for stack, n in stacks(raw).items():
        by_category[category(stack)] += n
    return {name: 1000 * n / rate / articles for name, n in by_category.most_common()} if articles else {}


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    file = match["file"].split("site-packages/")[-1].split("lib/python3.11/")[-1]
    file = re.sub(r"^.*?/service/", "service/", file)
    return f"{match['function']} ({file})"


def summarise(raw: str, top: int = 12) -> dict[str, Any]:
    """Shares of the samples by category, and the functions most often on the stack's top
    within newsflow's own code and outside it."""
    counted = stacks(raw)
    total = sum(counted.values())
    if not total:
        return {"samples": 0, "categories": {}, "top_functions": []}
    by_category: Counter = Counter()
    leaves: Counter = Counter()
    for stack, n in counted.items():
        by_category[category(stack)] += n
        leaves[_short(stack.rsplit(";", 1)[-1])] += n
    return {
        "samples": total,
        "categories": {name: n / total for name, n in by_category.most_common()},
        "top_functions": [[name, n / total] for name, n in leaves.most_common(top)],
    }
