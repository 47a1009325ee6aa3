"""Infrastructure helpers: caseline's Kafka topics, and the local no-Docker stack (`local`)."""

from shared.infra.topics import (
    ALL_TOPICS,
    DLQ_TOPIC,
    SERVICES_WITH_TOPICS,
    TopicSetupError,
    ensure_topics,
    topic_for,
)

__all__ = [
    "ALL_TOPICS",
    "DLQ_TOPIC",
    "SERVICES_WITH_TOPICS",
    "TopicSetupError",
    "ensure_topics",
    "topic_for",
]
