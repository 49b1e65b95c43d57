"""The project's own single-node Kafka: jars from Maven, KRaft combined mode, on 127.0.0.1."""

import asyncio
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from service.admin import probe
from service.errors import LocalKafkaError
from service.settings import Settings

DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy" / "kafka"
POM = DEPLOY_DIR / "pom.xml"
LOG4J_CONFIG = DEPLOY_DIR / "log4j2.yaml"
# Brokers this process started: kept so they are reaped on stop, not left as zombies.
_CHILDREN: dict[int, subprocess.Popen] = {}
ALTERNATIVES = (
    "Alternatively point NEWSFLOW_KAFKA_BOOTSTRAP at an existing cluster, "
    "or run `docker compose up` where a Docker engine is available."
)


def kafka_version(pom: Path = POM) -> str:
    """The Kafka version pinned in deploy/kafka/pom.xml."""
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text())
    if not match:
        raise LocalKafkaError(f"{pom} does not declare <kafka.version>")
    return match.group(1).strip()


@dataclass(frozen=True)
class LocalKafka:
    """Paths and ports of one local broker, derived from settings."""

    settings: Settings

    @property
    def version(self) -> str:
        return kafka_version()

    @property
    def home(self) -> Path:
        return self.settings.cache_dir / f"kafka-{self.version}"

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def data_dir(self) -> Path:
        return self.settings.local_kafka_data_dir.resolve()

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def stdout_file(self) -> Path:
        return self.data_dir / "broker.out"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.settings.kafka_port}"

    # --- installation ---------------------------------------------------------
    def ensure_jars(self, quiet: bool = True) -> Path:
        """Resolve the broker's jars with Maven into the cache, once."""
        marker = self.libs / ".complete"
        if marker.exists():
            return self.libs
        mvn = shutil.which("mvn")
        if not mvn:
            raise LocalKafkaError(
                "Maven (`mvn`) is needed to fetch the Kafka jars: install it "
                "(Debian: apt-get install maven). " + ALTERNATIVES
            )
        staging = self.home / f"libs.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        cmd = [
            mvn, "-B", "-f", str(POM), "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
        ] + (["-q"] if quiet else [])
        result = subprocess.run(cmd, capture_output=quiet, text=True)
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            detail = (result.stdout or "")[-2000:] + (result.stderr or "")[-2000:] if quiet else ""
            raise LocalKafkaError(f"Maven could not fetch Kafka {self.version}:\n{detail}")
        (staging / ".complete").write_text(self.version)
        shutil.rmtree(self.libs, ignore_errors=True)
        staging.rename(self.libs)
        return self.libs

    def _java(self) -> str:
        java = shutil.which("java")
        if not java:
            raise LocalKafkaError(
                "Java 17 or newer is needed to run Kafka: install it "
                "(Debian: apt-get install openjdk-17-jre-headless). " + ALTERNATIVES
            )
        return java

    def properties(self) -> dict[str, str]:
        """The broker's server.properties."""
        s = self.settings
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{s.kafka_controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{s.kafka_port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.log_dir),
            "num.partitions": str(s.topic_partitions),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # A single test-friendly node: no waiting for more group members to join.
            "group.initial.rebalance.delay.ms": "0",
            "message.max.bytes": str(s.max_message_bytes),
            "replica.fetch.max.bytes": str(s.max_message_bytes),
            "auto.create.topics.enable": "false",
        }

    def format_args(self) -> list[str]:
        """Extra arguments of the storage format command (e.g. `--add-scram` users)."""
        return []

    def client_settings(self) -> Settings:
        """Settings with which a client reaches this broker."""
        return self.settings.model_copy(update={"kafka_bootstrap": self.bootstrap})

    def _write_config(self) -> None:
        self.config_file.write_text("".join(f"{key}={value}\n" for key, value in self.properties().items()))

    def _classpath(self) -> str:
        return str(self.libs / "*")

    def _format_storage(self, java: str) -> None:
        if (self.log_dir / "meta.properties").exists():
            return
        cluster_id = _cluster_id()
        result = subprocess.run(
            [java, "-cp", self._classpath(), f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
             "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id, "-c", str(self.config_file),
             *self.format_args()],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise LocalKafkaError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    # --- lifecycle ---------------------------------------------------------
    def running_pid(self) -> int | None:
        """Pid of the broker this data dir belongs to, when that process is alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        # The pid may have been reused by an unrelated process since the broker died.
        return pid if _alive(pid) and _is_kafka(pid) else None

    def answers(self, timeout: float = 3.0) -> bool:
        return asyncio.run(probe(self.client_settings(), timeout))

    def start(self, timeout: float = 90.0, on_progress=None) -> str:
        """Start the broker unless one already answers; returns "started" or "already running"."""
        if self.running_pid() and self.answers():
            return "already running"
        java = self._java()
        for port in (self.settings.kafka_port, self.settings.kafka_controller_port):
            if _port_in_use(port) and not self.running_pid():
                raise LocalKafkaError(
                    f"port {port} on 127.0.0.1 is taken by another process; set NEWSFLOW_KAFKA_PORT / "
                    "NEWSFLOW_KAFKA_CONTROLLER_PORT, or point NEWSFLOW_KAFKA_BOOTSTRAP at that broker"
                )
        if on_progress and not (self.libs / ".complete").exists():
            on_progress(f"resolving Kafka {self.version} jars with Maven (first run only)")
        self.ensure_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._format_storage(java)
        heap = self.settings.kafka_heap
        with open(self.stdout_file, "ab") as out:
            proc = subprocess.Popen(
                [java, f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                 f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", f"-Dkafka.logs.dir={self.data_dir}",
                 "-cp", self._classpath(), "kafka.Kafka", str(self.config_file)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        _CHILDREN[proc.pid] = proc
        self.pid_file.write_text(str(proc.pid))
        if on_progress:
            on_progress(f"waiting for the broker on {self.bootstrap}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                _CHILDREN.pop(proc.pid, None)
                self.pid_file.unlink(missing_ok=True)
                raise LocalKafkaError(f"Kafka exited with code {proc.returncode}:\n{self._log_tail()}")
            if self.answers(timeout=2.0):
                return "started"
            time.sleep(0.5)
        self.stop()
        raise LocalKafkaError(f"Kafka did not answer on {self.bootstrap} within {timeout:.0f}s:\n{self._log_tail()}")

    def stop(self, timeout: float = 30.0) -> str:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after `timeout`)."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return "not running"
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        child = _CHILDREN.pop(pid, None)
        if child is not None:
            child.wait()
        self.pid_file.unlink(missing_ok=True)
        return "stopped"

    def status(self) -> dict:
        pid = self.running_pid()
        return {
            "version": self.version,
            "bootstrap": self.bootstrap,
            "pid": pid,
            "answers": bool(pid) and self.answers(),
            "data_dir": str(self.data_dir),
            "jars": str(self.libs) if (self.libs / ".complete").exists() else None,
        }

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.stdout_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no broker output)"


def _cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding, as Kafka wants: never starting with
    `-`, which the storage tool's argument parser would read as an option."""
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


# Ports handed out by free_port() start here, above the well-known services.
PORT_FLOOR = 20_000


def ephemeral_ports() -> tuple[int, int]:
    """The range the kernel takes outgoing connections' local ports from."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing uses now (for brokers and workers of tests and
    benchmarks), below the kernel's ephemeral range.

    Why below: any outgoing connection may take a free ephemeral port as its local port at any
    moment, and brokers and workers are restarted on the ports they were given. A chaos test's
    worker, restarted after a SIGKILL on its web port (picked by binding port 0, so in that
    range), once found it taken and exited."""
    low, _ = ephemeral_ports()
    if low - PORT_FLOOR >= 1000:
        rng = random.SystemRandom()
        for _ in range(100):
            port = rng.randrange(PORT_FLOOR, low)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:  # an unusual range: whatever the kernel offers
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def _is_kafka(pid: int) -> bool:
    try:
        return b"kafka.Kafka" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not _is_zombie(pid)
