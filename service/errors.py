"""One root exception; each failure a one-line subclass."""


class NewsflowError(Exception):
    """Base of every error newsflow raises on purpose."""


class BrokerUnavailable(NewsflowError):
    """No Kafka broker answered at the configured bootstrap servers."""


class LocalKafkaError(NewsflowError):
    """The project's local Kafka broker could not be fetched, started or stopped."""


class InputFileError(NewsflowError):
    """A file given to `newsflow push` cannot be read."""
