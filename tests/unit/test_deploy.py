"""The Docker files, checked without a Docker engine: every path exists, every env name is a setting."""

import re
from pathlib import Path

import yaml

from service.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_build_refers_to_an_existing_dockerfile():
    builds = [s["build"] for s in COMPOSE["services"].values() if "build" in s]
    assert builds
    for build in builds:
        assert (ROOT / build["context"] / build["dockerfile"]).is_file()


def test_every_newsflow_env_name_is_a_setting():
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    names = {k for s in COMPOSE["services"].values() for k in s.get("environment", {}) if k.startswith(ENV_PREFIX)}
    dockerfile_env = set(re.findall(r"(NEWSFLOW_[A-Z_]+)=", (ROOT / "deploy" / "Dockerfile").read_text()))
    assert names and names | dockerfile_env <= fields


def test_worker_bootstrap_uses_the_internal_listener():
    kafka = COMPOSE["services"]["kafka"]["environment"]
    internal = next(l for l in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",") if l.startswith("INTERNAL://"))
    assert COMPOSE["services"]["worker"]["environment"]["NEWSFLOW_KAFKA_BOOTSTRAP"] == internal.removeprefix("INTERNAL://")


def test_dockerfile_copies_only_existing_paths():
    for src in re.findall(r"^COPY (\S+)", (ROOT / "deploy" / "Dockerfile").read_text(), re.M):
        assert (ROOT / src).exists(), src


def test_worker_web_port_matches_the_exposed_port():
    worker = COMPOSE["services"]["worker"]
    assert str(worker["environment"]["NEWSFLOW_WEB_PORT"]) in worker["expose"]
