"""A local broker that only speaks SASL_SSL with SCRAM-SHA-512 and enforces ACLs, and the
certificates it needs.

The certificates are made fresh by each test session with openssl: a throwaway CA, and a broker
certificate it signs for 127.0.0.1 and localhost, packed into a PKCS12 keystore.
"""

import asyncio
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest, DescribeAclsRequest
from pydantic import SecretStr

from service.kafka_local import LocalKafka
from service.kafka_security import client_options
from service.settings import Settings
from tests.support.broker import REQUIRE_BROKER, free_port

MECHANISM = "SCRAM-SHA-512"
# SCRAM users, one per role of the README ("Deployment security"): a super user for operators, the worker,
# a producer of raw articles and a publisher of alert rules.
ADMIN_USER, WORKER_USER, PRODUCER_USER, RULES_USER = "admin", "newsflow", "ingest", "rules-publisher"
USERS = (ADMIN_USER, WORKER_USER, PRODUCER_USER, RULES_USER)
# The broker authenticates to itself (inter-broker listener) as its own SCRAM user.
BROKER_USER = "broker"


@dataclass(frozen=True)
class Certificates:
    ca: Path  # PEM: what clients trust
    keystore: Path  # PKCS12: the broker's key and certificate chain
    keystore_password: str


def missing_tools() -> list[str]:
    """The programs a secure broker needs that are not on PATH."""
    return [tool for tool in ("java", "mvn", "openssl") if not shutil.which(tool)]


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed:\n{result.stderr}")


def make_ca(directory: Path, name: str = "newsflow test CA") -> tuple[Path, Path]:
    """A self-signed CA: (certificate PEM, key PEM)."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
        "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )
    return directory / "ca.pem", directory / "ca.key"


def make_certificates(directory: Path) -> Certificates:
    """A CA, and a broker keystore whose certificate it signed for 127.0.0.1 and localhost."""
    ca, ca_key = make_ca(directory)
    (directory / "broker.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "broker.key", "-out", "broker.csr", cwd=directory)
    _openssl("x509", "-req", "-in", "broker.csr", "-CA", ca.name, "-CAkey", ca_key.name, "-CAcreateserial",
             "-days", "2", "-extfile", "broker.ext", "-out", "broker.pem", cwd=directory)
    password = secrets.token_hex(12)
    _openssl("pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key", "-certfile", ca.name,
             "-name", "broker", "-passout", f"pass:{password}", "-out", "broker.p12", cwd=directory)
    return Certificates(ca=ca, keystore=directory / "broker.p12", keystore_password=password)


@dataclass(frozen=True)
class SecureKafka(LocalKafka):
    """LocalKafka whose client listener is SASL_SSL with ACLs enforced; SCRAM users are created
    when storage is formatted."""

    certificates: Certificates
    users: tuple[tuple[str, str], ...]  # (name, password) of every SCRAM user
    broker_password: str

    def properties(self) -> dict[str, str]:
        s = self.settings
        return {
            **super().properties(),
            "listeners": f"SASL_SSL://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
            "advertised.listeners": f"SASL_SSL://127.0.0.1:{s.kafka_port}",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{BROKER_USER}" password="{self.broker_password}";'
            ),
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(self.certificates.keystore),
            "ssl.keystore.password": self.certificates.keystore_password,
            # The broker's own inter-broker client verifies the certificate like any client.
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.certificates.ca),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # KRaft controllers cannot check SCRAM (the credentials live in the metadata they
            # serve), so the local controller listener stays PLAINTEXT and its ANONYMOUS peer,
            # the broker itself, must be a super user.
            "super.users": f"User:{BROKER_USER};User:{ADMIN_USER};User:ANONYMOUS",
        }

    def format_args(self) -> list[str]:
        args = []
        for name, password in (*self.users, (BROKER_USER, self.broker_password)):
            args += ["--add-scram", f"{MECHANISM}=[name={name},password={password}]"]
        return args


# Kafka's wire codes for ACL bindings (org.apache.kafka.common.acl / resource).
_RESOURCE_TYPES = {"topic": 2, "group": 3}
_OPERATIONS = {"read": 3, "write": 4, "create": 5, "describe": 8}
_LITERAL, _PREFIXED, _ALLOW = 3, 4, 3


@dataclass(frozen=True)
class Acl:
    """One ALLOW binding, as `kafka-acls --add --allow-principal User:<user> --operation <operation>` makes."""

    user: str
    operation: str  # read, write, create, describe
    resource: str  # topic, group
    name: str
    prefixed: bool = False


@dataclass
class SecureBroker:
    """A running SASL_SSL broker with ACLs on, and its SCRAM users' passwords."""

    kafka: SecureKafka
    passwords: dict[str, str]

    def as_user(self, user: str) -> Settings:
        """Client settings that authenticate as `user`."""
        return self.kafka.client_settings().model_copy(
            update={"kafka_sasl_username": user, "kafka_sasl_password": SecretStr(self.passwords[user])}
        )

    @property
    def admin(self) -> Settings:
        """A super user's settings: creates topics, grants ACLs."""
        return self.as_user(ADMIN_USER)

    def grant(self, acls: list[Acl]) -> None:
        asyncio.run(_create_acls(self.admin, acls))

    def stop(self) -> None:
        self.kafka.stop()


async def _create_acls(settings: Settings, acls: list[Acl], timeout: float = 15.0) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_list, **client_options(settings))
    try:
        await admin.start()
        # aiokafka's admin client has no ACL calls; its request types are all there is.
        for acl in acls:
            response = await admin._send_request(CreateAclsRequest(*_binding(acl)))
            for code, message in response.creation_responses:
                if code:
                    raise RuntimeError(f"could not create {acl}: error {code} {message}")
        # The controller commits ACLs; the broker's authorizer applies them a moment later.
        deadline = time.monotonic() + timeout
        for acl in acls:
            while not (await admin._send_request(DescribeAclsRequest(*_binding(acl)))).resources:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{acl} was created but the broker never applied it")
                await asyncio.sleep(0.1)
    finally:
        await admin.close()


def _binding(acl: Acl) -> tuple:
    return (
        _RESOURCE_TYPES[acl.resource], acl.name, _PREFIXED if acl.prefixed else _LITERAL,
        f"User:{acl.user}", "*", _OPERATIONS[acl.operation], _ALLOW,
    )


def start_secure_broker(directory: Path) -> SecureBroker:
    """Make certificates, then start a SASL_SSL broker with a SCRAM user for each role."""
    certificates = make_certificates(directory / "tls")
    passwords = {user: secrets.token_urlsafe(18) for user in USERS}
    settings = Settings(
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        kafka_data_dir=directory / "kafka",
        kafka_heap="512m",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism=MECHANISM,
        kafka_sasl_username=ADMIN_USER,
        kafka_sasl_password=SecretStr(passwords[ADMIN_USER]),
        kafka_ssl_cafile=certificates.ca,
    )
    kafka = SecureKafka(
        settings, certificates=certificates, users=tuple(passwords.items()), broker_password=secrets.token_hex(16)
    )
    kafka.start()
    return SecureBroker(kafka, passwords)


def secure_broker_for_tests(directory: Path) -> Iterator[SecureBroker]:
    """A fixture body: the running secure broker, stopped afterwards. Without java, mvn or
    openssl it skips, or fails under NEWSFLOW_REQUIRE_BROKER=1 like the plain broker fixture."""
    missing = missing_tools()
    if missing:
        message = f"a SASL_SSL broker needs {', '.join(missing)} on PATH"
        if REQUIRE_BROKER:
            pytest.fail(message + " (NEWSFLOW_REQUIRE_BROKER=1)")
        pytest.skip(message)
    broker = start_secure_broker(directory)
    try:
        yield broker
    finally:
        broker.stop()
