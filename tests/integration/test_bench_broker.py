"""The benchmark's own broker: started, identified by its process (so the paced load can
sample its CPU), stopped and removed after."""


import pytest

from service.bench import suite
from service.bench.worker import cpu_seconds
from service.kafka_local import _alive, _is_kafka
from service.settings import Settings
from tests.support.broker import need_java_and_maven


@pytest.mark.timeout(240)
def test_the_suite_s_local_broker_is_yielded_with_its_process_id(tmp_path):
    need_java_and_maven("this test")
    with suite.broker(Settings(kafka_heap="512m"), tmp_path / "kafka", lambda m: None) as (connected, label, version, pid):
        assert label.startswith("local, KRaft") and version.startswith("4.")
        assert pid is not None and _is_kafka(pid) and cpu_seconds(pid) > 0
        assert connected.kafka_bootstrap.startswith("127.0.0.1:")
    assert not _alive(pid) or not _is_kafka(pid)
    assert not (tmp_path / "kafka").exists()


def test_an_existing_cluster_has_no_process_of_ours():
    settings = Settings(kafka_bootstrap="broker.example:9092")
    with suite.broker(settings, None, lambda m: None) as (connected, label, version, pid):
        assert pid is None and connected is settings and label == "existing cluster at broker.example:9092"
