"""How newsflow's Kafka clients authenticate: settings → aiokafka options and Faust credentials.

Every client (admin, producer, readers, the rules follower, the Faust app) takes its security
from here, so a cluster that wants TLS and SCRAM gets it from all of them or from none.
"""

import asyncio
import ssl
from typing import TYPE_CHECKING, Any

from aiokafka import errors as kafka_errors
from aiokafka.conn import create_conn
from aiokafka.helpers import create_ssl_context

from service.errors import KafkaAuthenticationError, KafkaSecurityConfigError
from service.settings import Settings

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

_TLS = ("SSL", "SASL_SSL")
_SASL = ("SASL_PLAINTEXT", "SASL_SSL")
# Seconds a refused client waits for its TLS connections to finish closing (see refusal()).
CLOSE_GRACE = 0.5
# What a broker answers when it turns a client's SASL exchange down.
_SASL_REFUSALS = (
    kafka_errors.SaslAuthenticationFailed,
    kafka_errors.AuthenticationFailedError,
    kafka_errors.UnsupportedSaslMechanismError,
    kafka_errors.IllegalSaslStateError,
)


def validate(settings: Settings) -> None:
    """Raise KafkaSecurityConfigError when the security settings cannot work as written.

    Settings that would silently go unused (a password with PLAINTEXT, a CA file without TLS)
    are errors too: they usually mean the protocol was forgotten and traffic would go in the clear.
    """
    protocol = settings.kafka_security_protocol
    password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
    if protocol in _SASL:
        if not settings.kafka_sasl_username or not password:
            raise KafkaSecurityConfigError(
                f"NEWSFLOW_KAFKA_SECURITY_PROTOCOL={protocol} needs NEWSFLOW_KAFKA_SASL_USERNAME "
                "and NEWSFLOW_KAFKA_SASL_PASSWORD"
            )
    elif settings.kafka_sasl_username or password:
        raise KafkaSecurityConfigError(
            f"SASL credentials are set but NEWSFLOW_KAFKA_SECURITY_PROTOCOL={protocol} does not use them: "
            "set it to SASL_SSL (or SASL_PLAINTEXT)"
        )
    files = {
        "NEWSFLOW_KAFKA_SSL_CAFILE": settings.kafka_ssl_cafile,
        "NEWSFLOW_KAFKA_SSL_CERTFILE": settings.kafka_ssl_certfile,
        "NEWSFLOW_KAFKA_SSL_KEYFILE": settings.kafka_ssl_keyfile,
    }
    given = [name for name, path in files.items() if path is not None]
    if protocol not in _TLS and given:
        raise KafkaSecurityConfigError(
            f"{', '.join(given)} set but NEWSFLOW_KAFKA_SECURITY_PROTOCOL={protocol} does not use TLS: "
            "set it to SSL or SASL_SSL"
        )
    for name in given:
        if not files[name].is_file():
            raise KafkaSecurityConfigError(f"{name}={files[name]} is not a readable file")
    if settings.kafka_ssl_keyfile is not None and settings.kafka_ssl_certfile is None:
        raise KafkaSecurityConfigError("NEWSFLOW_KAFKA_SSL_KEYFILE needs NEWSFLOW_KAFKA_SSL_CERTFILE")


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (None otherwise).

    Without NEWSFLOW_KAFKA_SSL_CAFILE the system's trust store verifies the brokers.
    """
    validate(settings)
    if settings.kafka_security_protocol not in _TLS:
        return None
    try:
        context = create_ssl_context(
            cafile=settings.kafka_ssl_cafile, certfile=settings.kafka_ssl_certfile, keyfile=settings.kafka_ssl_keyfile
        )
    except OSError as e:  # ssl.SSLError included
        raise KafkaSecurityConfigError(f"the TLS files in NEWSFLOW_KAFKA_SSL_* could not be loaded: {e}") from e
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments that give an aiokafka client (producer, consumer, admin) the security settings."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol in _SASL:
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password.get_secret_value(),
        )
    return options


def faust_credentials(settings: Settings) -> "CredentialsT | None":
    """Faust's `broker_credentials` for the same settings (None for PLAINTEXT)."""
    # Imported here: importing Faust costs the CLI's short commands more than they take to run.
    from faust.auth import SASLCredentials, SSLCredentials

    context = ssl_context(settings)
    if settings.kafka_security_protocol in _SASL:
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def principal(settings: Settings) -> str:
    """Who the brokers see, for messages: the SASL user, else the connection itself."""
    return f"user {settings.kafka_sasl_username!r}" if settings.kafka_sasl_username else "this client"


async def refusal(settings: Settings, timeout: float = 10.0) -> KafkaAuthenticationError | None:
    """Why the brokers turned a client away, when they did: a failed TLS handshake or rejected
    SASL credentials. None when no broker answered at all, or none refused.

    aiokafka logs the cause of a failed bootstrap and raises a bare "Unable to bootstrap", so
    this connects once more, directly, to name the cause for the user.
    """
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    options = client_options(settings)
    refused = None
    for server in settings.bootstrap_list:
        refused = await _refused_by(server, settings, options, timeout)
        if refused is not None:
            break
    if "ssl_context" in options:
        # Closing a TLS connection takes a round trip to the broker: let the ones closed on this
        # failure path finish before the caller's event loop ends, or their sockets stay open.
        await asyncio.sleep(CLOSE_GRACE)
    return refused


async def _refused_by(
    server: str, settings: Settings, options: dict, timeout: float
) -> KafkaAuthenticationError | None:
    host, _, port = server.rpartition(":")
    try:
        conn = await asyncio.wait_for(
            create_conn(host, int(port), request_timeout_ms=int(timeout * 1000), **options), timeout
        )
    except _SASL_REFUSALS as e:
        detail = e.args[0] if e.args and isinstance(e.args[0], str) else type(e).__name__
        return KafkaAuthenticationError(
            f"Kafka at {server} rejected SASL authentication of user {settings.kafka_sasl_username!r} "
            f"({detail}). Check NEWSFLOW_KAFKA_SASL_USERNAME and NEWSFLOW_KAFKA_SASL_PASSWORD."
        )
    except ssl.SSLError as e:
        return KafkaAuthenticationError(
            f"TLS handshake with Kafka at {server} failed (authentication of the broker): "
            f"{getattr(e, 'verify_message', None) or e}. Check NEWSFLOW_KAFKA_SSL_CAFILE (the CA that "
            "signed the broker's certificate) and that the certificate names the host you connect to."
        )
    except (OSError, ValueError, kafka_errors.KafkaError, asyncio.TimeoutError):
        return None
    conn.close()
    return None
