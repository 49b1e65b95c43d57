"""newsflow: Kafka-native stream processing for news."""

__version__ = "0.1.0"
