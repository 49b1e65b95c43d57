import pytest

from service.errors import LocalKafkaError
from service.kafka_local import POM, LocalKafka, kafka_version
from service.settings import Settings


def test_version_comes_from_the_pom():
    assert kafka_version().startswith("4.")
    assert f"<kafka.version>{kafka_version()}</kafka.version>" in POM.read_text()


def test_paths_follow_settings(tmp_path):
    local = LocalKafka(Settings(cache_dir=tmp_path / "cache", data_dir=tmp_path / "d", kafka_port=19999))
    assert local.home == tmp_path / "cache" / f"kafka-{kafka_version()}"
    assert local.data_dir == (tmp_path / "d" / "kafka").resolve()
    assert local.bootstrap == "127.0.0.1:19999"


def test_missing_maven_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(LocalKafkaError, match="(?s)apt-get install maven.*NEWSFLOW_KAFKA_BOOTSTRAP.*docker compose"):
        LocalKafka(Settings(cache_dir=tmp_path)).ensure_jars()


def test_missing_java_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(LocalKafkaError, match="(?s)openjdk.*NEWSFLOW_KAFKA_BOOTSTRAP.*docker compose"):
        LocalKafka(Settings(cache_dir=tmp_path, data_dir=tmp_path)).start()


def test_status_of_a_broker_never_started(tmp_path):
    status = LocalKafka(Settings(cache_dir=tmp_path, data_dir=tmp_path, kafka_port=1)).status()
    assert status["pid"] is None and status["answers"] is False


def test_cluster_ids_never_look_like_options():
    from service.kafka_local import _cluster_id

    ids = [_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids) and len(set(ids)) == 2000


def test_free_ports_lie_below_the_ephemeral_range_and_can_be_bound():
    import socket

    from service.kafka_local import PORT_FLOOR, ephemeral_ports, free_port

    low, high = ephemeral_ports()
    assert PORT_FLOOR < low <= high
    ports = {free_port() for _ in range(20)}
    assert len(ports) > 1  # drawn, not one fixed port
    for port in ports:
        assert PORT_FLOOR <= port < low
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_free_port_skips_a_port_in_use(monkeypatch):
    import socket

    from service import kafka_local

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        held.listen()
        other = taken + 1 if taken < 65535 else taken - 1
        picks = iter([taken, taken, other])
        monkeypatch.setattr(kafka_local, "ephemeral_ports", lambda: (65535, 65535))
        monkeypatch.setattr(kafka_local.random.SystemRandom, "randrange", lambda self, a, b: next(picks))
        assert kafka_local.free_port() == other
