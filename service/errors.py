"""One root exception; each failure a one-line subclass."""


class NewsflowError(Exception):
    """Base of every error newsflow raises on purpose."""


class BrokerUnavailable(NewsflowError):
    """No Kafka broker answered at the configured bootstrap servers."""


class LocalKafkaError(NewsflowError):
    """The project's local Kafka broker could not be fetched, started or stopped."""


class InputFileError(NewsflowError):
    """A file given to `newsflow push` cannot be read."""


class KafkaSecurityConfigError(NewsflowError):
    """The Kafka security settings contradict each other or name unusable files."""


class KafkaAuthenticationError(NewsflowError):
    """A broker refused the TLS handshake or the SASL credentials."""


class KafkaAuthorizationError(NewsflowError):
    """The cluster's ACLs do not let this principal do something it needs."""
