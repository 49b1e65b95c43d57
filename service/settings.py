"""The one settings object. Every environment variable newsflow reads is a field here.

Each field `x` is read from `NEWSFLOW_X` (e.g. `kafka_bootstrap` from
`NEWSFLOW_KAFKA_BOOTSTRAP`). `newsflow config` prints the effective values.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "NEWSFLOW_"
MIB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    # --- Kafka connection -------------------------------------------------
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Comma-separated bootstrap servers of the cluster to use."
    )
    topic_prefix: str = Field("", description="Prepended to every topic name, e.g. 'staging.'.")
    topic_partitions: int = Field(4, ge=1, description="Partitions for topics newsflow creates.")
    topic_replication: int = Field(1, ge=1, description="Replication factor for created topics.")
    app_id: str = Field("newsflow", description="Faust app id: consumer group and table prefix.")
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    session_timeout: float = Field(
        30.0, ge=6.0, description="Seconds before a silent worker's partitions move to another."
    )
    commit_interval: float = Field(2.8, gt=0, description="Seconds between offset commits.")
    # One dedup request is ~10 KB: Faust's default 16 KiB batches held one or two, and the
    # worker spent ~10% of its CPU sending requests (measured with py-spy, newsflow bench).
    producer_linger_ms: float = Field(
        5.0, ge=0, le=1000, description="Milliseconds the worker's producer waits to fill a batch."
    )
    producer_batch_bytes: int = Field(
        1024 * 1024, ge=16 * 1024, description="Largest batch of records per partition the worker's producer sends."
    )
    # On one host it changed nothing measurable (20k drains: lz4 379 and 340/s, none 372 and
    # 379/s); across a network it saves bytes (generated outcomes: lz4 2.8x, zstd 4.9x smaller).
    producer_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "none", description="Codec of the worker's record batches (outcomes, dedup requests, changelogs).",
    )
    # Faust asks the broker to hold each fetch up to 1.5 s when it has no data, and the client
    # sends one fetch at a time per broker: a fetch waiting on partitions at their end (the raw
    # topic, drained) kept the dedup partition's next fetch back, and the worker sat idle ~40 %
    # of a backlog's drain (see service.faust_fixes).
    fetch_max_wait_ms: int = Field(
        50, ge=1, le=1500,
        description="Longest the broker holds the worker's fetch when the partitions asked for have no new records.",
    )
    # With 1 (the client's default) a fetch answers as soon as one record is there: at half the
    # drain rate the worker fetched an article or two at a time and used ~0.9 of a core. Waiting
    # for 64 KiB or 50 ms, the same load took 0.64-0.69 cores (the broker 0.17 against 0.21-0.27),
    # p99 stayed 0.11-0.16 s and p50 rose ~30 ms; drains fill each fetch and do not wait.
    fetch_min_bytes: int = Field(
        64 * 1024, ge=1, le=16 * MIB,
        description="Bytes of new records the broker waits for, up to fetch_max_wait_ms, before it answers the worker's fetch.",
    )
    # Kafka compacts a changelog only in closed segments, and the default segment is 1 GiB. The
    # alert groups' changelog takes ~5 KB per article, so it reached 1 GiB after ~200k articles:
    # the broker then cleaned the whole GiB at once (2.6 s of a core on this 2-core machine), and
    # the paced load's worst articles waited 1.5 s in that window; a restart would also have
    # replayed up to a GiB of superseded values. Changelogs the worker creates get this size.
    changelog_segment_bytes: int = Field(
        64 * MIB, ge=MIB, le=1024 * MIB,
        description="Segment size of the table changelog topics the worker creates (compaction works on closed segments).",
    )

    # --- Kafka security (a locked-down cluster) -------------------------------
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How clients talk to the brokers."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user (the worker's principal).")
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password; never logged or printed by `newsflow config`."
    )
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle that signed the brokers' certificates.")
    kafka_ssl_certfile: Path | None = Field(None, description="Client certificate (mutual TLS), optional.")
    kafka_ssl_keyfile: Path | None = Field(None, description="Client private key (mutual TLS), optional.")
    kafka_ssl_check_hostname: bool = Field(True, description="Verify the broker's certificate names its host.")

    # --- Worker -----------------------------------------------------------
    web_host: str = Field("127.0.0.1", description="Address the worker's web server binds to.")
    web_port: int = Field(6066, ge=1, le=65535, description="Port of /metrics, /healthz, /readyz.")
    data_dir: Path = Field(Path("var"), description="Worker state: table stores, local broker.")
    log_level: str = "info"

    # --- Input limits -------------------------------------------------------
    max_article_bytes: int = Field(
        2 * MIB, ge=1024, description="Raw messages larger than this go to dead letters."
    )
    max_json_depth: int = Field(
        32, ge=2, description="Deeper nesting (in `metadata`) is rejected as a dead letter."
    )
    dead_letter_max_original_bytes: int = Field(
        MIB,
        ge=1024,
        description="Dead letters carry at most this much of the original; the rest stays "
        "readable on the raw topic at the recorded partition/offset.",
    )

    # --- Dedup -------------------------------------------------------------
    dedup_retention_days: float = Field(
        7.0, gt=0, description="Articles are remembered this long in article time (published_at)."
    )
    dedup_max_behind: int = Field(
        500, ge=2, description="A worker stops fetching raw articles while its dedup agent has more requests "
        "than this to take, so a backlog's outcomes come out as it is worked through.",
    )

    # --- Tagging -------------------------------------------------------------
    kb_path: Path | None = Field(None, description="Entity knowledge base (YAML/JSON/JSONL); default seeds/kb/entities.yaml.")
    themes_path: Path | None = Field(None, description="Theme taxonomy (YAML/JSON); default seeds/themes.yaml.")
    kb_reload_seconds: float = Field(30.0, gt=0, description="How often the worker checks the KB files for changes.")

    # --- Alerting ------------------------------------------------------------
    rules_path: Path | None = Field(None, description="Alert rules (YAML); default seeds/rules.yaml. Reloaded on change.")
    alertmanager_url: str | None = Field(
        None, description="Base URL of an Alertmanager (e.g. http://alertmanager:9093); alerts are also POSTed to its /api/v2/alerts."
    )
    alertmanager_resend_seconds: float = Field(
        60.0, gt=0, description="Active alerts are re-sent this often, as Alertmanager's client contract asks."
    )
    alertmanager_timeout: float = Field(5.0, gt=0, description="Seconds before one POST to Alertmanager gives up.")

    # --- Local broker (`newsflow kafka ...`) --------------------------------
    kafka_port: int = Field(9092, ge=1, le=65535, description="Local broker's client port.")
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_heap: str = Field("512m", description="JVM heap of the local broker (-Xmx/-Xms).")
    kafka_data_dir: Path | None = Field(
        None, description="Local broker's log dir; default <data_dir>/kafka."
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "newsflow", description="Where Maven puts the Kafka jars."
    )

    def as_env(self) -> dict[str, str]:
        """These settings as the environment variables that reproduce them in a child process."""
        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if hasattr(value, "get_secret_value"):
                value = value.get_secret_value()
            env[f"{ENV_PREFIX}{name.upper()}"] = str(value)
        return env

    @property
    def broker_url(self) -> str:
        """The bootstrap servers in Faust's `kafka://host:port;host:port` form."""
        hosts = [h.strip() for h in self.kafka_bootstrap.split(",") if h.strip()]
        return ";".join(f"kafka://{h}" for h in hosts)

    @property
    def bootstrap_list(self) -> list[str]:
        return [h.strip() for h in self.kafka_bootstrap.split(",") if h.strip()]

    @property
    def local_kafka_data_dir(self) -> Path:
        return self.kafka_data_dir or self.data_dir / "kafka"

    @property
    def max_message_bytes(self) -> int:
        """Topic and client message size: room for the largest article plus its envelope."""
        return max(self.max_article_bytes, self.dead_letter_max_original_bytes) * 2 + MIB


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
