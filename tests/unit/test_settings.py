from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import Settings, get_settings
from service.topic_names import TopicNames


def test_env_prefix_and_defaults(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_KAFKA_BOOTSTRAP", "a:1, b:2")
    monkeypatch.setenv("NEWSFLOW_TOPIC_PREFIX", "stage.")
    settings = get_settings()
    assert settings.bootstrap_list == ["a:1", "b:2"]
    assert settings.broker_url == "kafka://a:1;kafka://b:2"
    assert settings.web_host == "127.0.0.1"
    assert settings.max_article_bytes == 2 * 1024 * 1024


def test_settings_are_frozen():
    with pytest.raises(ValidationError):
        Settings().web_port = 1


def test_bad_values_are_rejected_clearly(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_WEB_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="web_port"):
        Settings()


def test_as_env_round_trips():
    original = Settings(topic_prefix="x.", data_dir=Path("/tmp/nf"), max_json_depth=5)
    assert Settings(**{k.removeprefix("NEWSFLOW_").lower(): v for k, v in original.as_env().items()}) == original


@pytest.mark.parametrize(
    ("prefix", "name", "expected"),
    [
        ("", "enriched", "articles.enriched"),
        ("p.", "enriched", "p.articles.enriched"),
        ("p.", "articles.invalid", "p.articles.invalid"),
        ("p.", "alerts", "p.alerts"),
        ("p.", "some.other.topic", "some.other.topic"),
    ],
)
def test_topic_names_resolve(prefix, name, expected):
    assert TopicNames.from_settings(Settings(topic_prefix=prefix)).resolve(name) == expected


def test_outcome_topics_are_the_three_sinks():
    names = TopicNames.from_settings(Settings())
    assert names.outcomes() == ["articles.enriched", "articles.duplicates", "articles.invalid"]


# --- Kafka security: settings → clients -------------------------------------------------

SECRET = "s3cret-Pa55word-for-tests"


def secure_settings(**overrides) -> Settings:
    values = dict(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="newsflow",
        kafka_sasl_password=SECRET,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def ca_file(tmp_path) -> Path:
    from tests.support.secure_broker import make_ca

    return make_ca(tmp_path / "ca")[0]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"kafka_sasl_password": None}, "SASL_SSL needs NEWSFLOW_KAFKA_SASL_USERNAME and NEWSFLOW_KAFKA_SASL_PASSWORD"),
        ({"kafka_sasl_username": None}, "needs NEWSFLOW_KAFKA_SASL_USERNAME"),
        ({"kafka_sasl_password": ""}, "needs NEWSFLOW_KAFKA_SASL_USERNAME"),
        ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": ""}, "SASL_PLAINTEXT needs"),
        ({"kafka_security_protocol": "PLAINTEXT"}, "SASL credentials are set but .*PLAINTEXT does not use them"),
        ({"kafka_security_protocol": "SSL"}, "SASL credentials are set but .*SSL does not use them"),
        ({"kafka_ssl_cafile": Path("/nonexistent/ca.pem")}, "NEWSFLOW_KAFKA_SSL_CAFILE=/nonexistent/ca.pem is not"),
        ({"kafka_ssl_keyfile": Path(__file__)}, "NEWSFLOW_KAFKA_SSL_KEYFILE needs NEWSFLOW_KAFKA_SSL_CERTFILE"),
        (
            {"kafka_security_protocol": "PLAINTEXT", "kafka_sasl_username": None, "kafka_sasl_password": None,
             "kafka_ssl_cafile": Path(__file__)},
            "NEWSFLOW_KAFKA_SSL_CAFILE set but .*PLAINTEXT does not use TLS",
        ),
    ],
)
def test_security_settings_that_cannot_work_are_refused_clearly(overrides, error):
    from service.errors import KafkaSecurityConfigError
    from service.kafka_security import client_options, faust_credentials

    settings = secure_settings(**overrides)
    with pytest.raises(KafkaSecurityConfigError, match=error):
        client_options(settings)
    with pytest.raises(KafkaSecurityConfigError, match=error):
        faust_credentials(settings)


def test_a_ca_file_that_is_not_a_certificate_is_a_config_error(tmp_path):
    from service.errors import KafkaSecurityConfigError
    from service.kafka_security import client_options

    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate")
    with pytest.raises(KafkaSecurityConfigError, match="NEWSFLOW_KAFKA_SSL_"):
        client_options(secure_settings(kafka_ssl_cafile=junk))


def test_plaintext_clients_get_no_security_options():
    from service.kafka_security import client_options, faust_credentials

    assert client_options(Settings()) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(Settings()) is None


def test_sasl_ssl_gives_aiokafka_scram_and_a_verifying_tls_context(ca_file):
    import ssl

    from service.kafka_security import client_options

    options = client_options(secure_settings(kafka_ssl_cafile=ca_file))
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "newsflow",
        "sasl_plain_password": SECRET,
    }
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "newsflow test CA"),),)]


def test_hostname_checking_can_be_turned_off_but_verification_stays(ca_file):
    import ssl

    from service.kafka_security import ssl_context

    context = ssl_context(secure_settings(kafka_ssl_cafile=ca_file, kafka_ssl_check_hostname=False))
    assert not context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


def test_without_a_ca_file_tls_trusts_the_system_store():
    from service.kafka_security import ssl_context

    context = ssl_context(secure_settings())
    assert context is not None and context.check_hostname


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "SCRAM-SHA-256"},
        {"kafka_security_protocol": "SSL", "kafka_sasl_username": None, "kafka_sasl_password": None},
    ],
    ids=["sasl-ssl", "sasl-plaintext", "ssl"],
)
def test_the_faust_app_gets_the_same_security_as_the_other_clients(overrides):
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from service.kafka_security import client_options, faust_credentials

    settings = secure_settings(**overrides)
    faust_options = dict(credentials_to_aiokafka_auth(faust_credentials(settings)))
    ours = client_options(settings)
    assert (faust_options.pop("ssl_context") is None) == (ours.pop("ssl_context", None) is None)
    assert {k: v for k, v in faust_options.items() if v is not None} == ours


def test_the_password_never_shows_in_settings_credentials_or_config(monkeypatch):
    from typer.testing import CliRunner

    from service.cli.main import app
    from service.kafka_security import faust_credentials

    monkeypatch.setenv("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_USERNAME", "newsflow")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_PASSWORD", SECRET)
    settings = get_settings()
    assert settings.kafka_sasl_password.get_secret_value() == SECRET
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
    assert SECRET not in repr(faust_credentials(settings))

    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 0, result.output
    assert "NEWSFLOW_KAFKA_SASL_USERNAME" in result.output and "newsflow" in result.output
    password_line = next(line for line in result.output.splitlines() if "NEWSFLOW_KAFKA_SASL_PASSWORD" in line)
    assert "**********" in password_line and SECRET not in result.output


@pytest.mark.parametrize(("compression", "faust_option"), [("none", None), ("lz4", "lz4"), ("zstd", "zstd")])
def test_the_worker_s_producer_compression_reaches_faust(compression, faust_option):
    from service.app import app_options

    assert Settings().producer_compression == "none"
    assert app_options(Settings(producer_compression=compression))["producer_compression_type"] == faust_option


def test_an_unknown_compression_is_rejected_clearly(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_PRODUCER_COMPRESSION", "brotli")
    with pytest.raises(ValidationError, match="producer_compression"):
        Settings()
