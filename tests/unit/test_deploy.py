"""The Docker files, checked without a Docker engine: every path exists, every env name is a setting."""

import json
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


# --- Prometheus, Grafana, Alertmanager in compose -------------------------------------------

PROMETHEUS_CONFIG = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
DASHBOARD = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "newsflow.json").read_text())


def host_path(service: str, container_path: str) -> Path:
    """The file a service sees at `container_path`, through its bind mounts."""
    for volume in COMPOSE["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith(".") and (container_path == target or container_path.startswith(target + "/")):
            return ROOT / source / container_path[len(target):].lstrip("/")
    raise AssertionError(f"{service} mounts nothing at {container_path}")


def container_ports(service: str) -> set[int]:
    return {int(str(p).rsplit(":", 1)[1]) for p in COMPOSE["services"][service].get("ports", [])}


def flag(service: str, name: str) -> str:
    return next(a.split("=", 1)[1] for a in COMPOSE["services"][service]["command"] if a.startswith(f"--{name}="))


def test_every_bind_mount_exists():
    mounts = [(name, v.split(":")[0]) for name, s in COMPOSE["services"].items() for v in s.get("volumes", [])]
    binds = [(name, source) for name, source in mounts if source.startswith(".")]
    assert binds
    for name, source in binds:
        assert (ROOT / source).exists(), f"{name}: {source}"
    named = {source for _, source in mounts if not source.startswith(".")}
    assert named <= set(COMPOSE.get("volumes", {}))


def test_worker_scales_without_clashes():
    worker = COMPOSE["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker


def test_prometheus_and_alertmanager_read_their_mounted_configs():
    assert host_path("prometheus", flag("prometheus", "config.file")) == ROOT / "deploy/prometheus/prometheus.yml"
    assert host_path("alertmanager", flag("alertmanager", "config.file")) == ROOT / "deploy/alertmanager/alertmanager.yml"
    for rule_file in PROMETHEUS_CONFIG["rule_files"]:
        assert (ROOT / "deploy" / "prometheus" / rule_file).is_file()


def test_prometheus_discovers_every_worker_replica_on_its_web_port():
    web_port = int(COMPOSE["services"]["worker"]["environment"]["NEWSFLOW_WEB_PORT"])
    jobs = {job["job_name"]: job for job in PROMETHEUS_CONFIG["scrape_configs"]}
    for name, path in (("newsflow", "/metrics"), ("newsflow-faust", "/metrics/faust")):
        (sd,) = jobs[name]["dns_sd_configs"]
        assert sd["names"] == ["worker"] and sd["port"] == web_port and jobs[name]["metrics_path"] == path


def test_alertmanager_address_is_the_same_for_prometheus_and_the_worker():
    (target,) = PROMETHEUS_CONFIG["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    url = COMPOSE["services"]["worker"]["environment"]["NEWSFLOW_ALERTMANAGER_URL"]
    assert url == f"http://{target}"
    host, port = target.split(":")
    assert host in COMPOSE["services"] and int(port) in container_ports("alertmanager")


def test_grafana_reads_prometheus_and_the_dashboard():
    datasources = yaml.safe_load(host_path("grafana", "/etc/grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    host, port = source["url"].removeprefix("http://").split(":")
    assert host in COMPOSE["services"] and int(port) in container_ports(host)
    providers = yaml.safe_load(host_path("grafana", "/etc/grafana/provisioning/dashboards/newsflow.yml").read_text())
    dashboards_dir = host_path("grafana", providers["providers"][0]["options"]["path"])
    assert (dashboards_dir / "newsflow.json").is_file()
    home = COMPOSE["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert host_path("grafana", home).is_file()
    uids = {p["datasource"]["uid"] for p in DASHBOARD["panels"] if "datasource" in p}
    uids |= {t["datasource"]["uid"] for p in DASHBOARD["panels"] for t in p.get("targets", [])}
    assert uids == {source["uid"]}


def test_dashboard_has_the_panels_operators_asked_for():
    titles = {p["title"] for p in DASHBOARD["panels"]}
    assert {
        "Throughput per stage", "Outcome mix", "Duplicate ratio", "Dead letters by reason",
        "End-to-end latency", "Consumer lag", "Alerts by rule", "Top entities",
    } <= titles
    latency = next(p for p in DASHBOARD["panels"] if p["title"] == "End-to-end latency")
    assert {"0.5", "0.99"} == {re.match(r"histogram_quantile\(([\d.]+),", t["expr"]).group(1) for t in latency["targets"]}
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))


# --- Kubernetes -------------------------------------------------------------------------------

K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())
MANIFESTS = {doc["kind"]: doc for name in KUSTOMIZATION["resources"] for doc in yaml.safe_load_all((K8S / name).read_text())}


def test_k8s_manifests_are_namespace_agnostic_and_all_listed():
    listed = set(KUSTOMIZATION["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert "namespace" not in KUSTOMIZATION
    assert all("namespace" not in doc["metadata"] for doc in MANIFESTS.values())
    assert {"Deployment", "ConfigMap", "Secret", "Service", "PodMonitor"} <= set(MANIFESTS)


def test_k8s_env_names_are_settings_and_secrets_are_placeholders():
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    config, secret = MANIFESTS["ConfigMap"]["data"], MANIFESTS["Secret"]["stringData"]
    assert set(config) | set(secret) <= fields
    assert "NEWSFLOW_KAFKA_SASL_PASSWORD" in secret and "NEWSFLOW_KAFKA_SASL_PASSWORD" not in config
    assert set(secret.values()) == {"CHANGE-ME"}
    # The values must parse as settings, e.g. a port number or a known protocol.
    Settings(**{name.removeprefix(ENV_PREFIX).lower(): value for name, value in config.items()})


def test_k8s_worker_probes_and_scrapes_its_web_port():
    pod = MANIFESTS["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    web_port = int(MANIFESTS["ConfigMap"]["data"]["NEWSFLOW_WEB_PORT"])
    assert {e.get("configMapRef", e.get("secretRef"))["name"] for e in container["envFrom"]} == {
        MANIFESTS["ConfigMap"]["metadata"]["name"], MANIFESTS["Secret"]["metadata"]["name"],
    }
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": web_port}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == MANIFESTS["ConfigMap"]["data"]["NEWSFLOW_DATA_DIR"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(web_port) and annotations["prometheus.io/path"] == "/metrics"
    labels = pod["metadata"]["labels"]
    assert MANIFESTS["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for kind in ("Service", "PodMonitor", "PodDisruptionBudget"):
        spec = MANIFESTS[kind]["spec"]
        assert (spec["selector"].get("matchLabels") or spec["selector"]).items() <= labels.items(), kind
    assert MANIFESTS["Service"]["spec"]["ports"][0]["targetPort"] == "metrics"
    endpoints = MANIFESTS["PodMonitor"]["spec"]["podMetricsEndpoints"]
    assert {(e["port"], e["path"]) for e in endpoints} == {("metrics", "/metrics"), ("metrics", "/metrics/faust")}
    # The self-alerts select job="newsflow", whatever discovered the pods.
    assert {e["relabelings"][0]["replacement"] for e in endpoints} == {"newsflow", "newsflow-faust"}


def test_dockerfile_health_check_is_the_liveness_page():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "/healthz" in re.search(r"^HEALTHCHECK .*$", dockerfile, re.M).group(0)
    assert re.search(r"^USER \d+$", dockerfile, re.M), "a numeric user, for runAsNonRoot"


def test_the_image_compiles_every_kernel_at_build_time(tmp_path, monkeypatch):
    from service import warmup

    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^RUN python -m service\.warmup\b", dockerfile, re.M)
    # Each kernel runs: the sample article matches at least one shipped rule through the compiled scan.
    assert warmup.compile_kernels() >= 1
