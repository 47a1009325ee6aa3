"""The event kit's exceptions: one root, one class per failure a caller can act on."""


class CaselineError(Exception):
    """Root of every error the event kit raises."""


class ConcurrencyError(CaselineError):
    """Another writer appended to the stream first: reload and decide again."""

    def __init__(self, case_id: str, expected_version: int, actual_version: int) -> None:
        super().__init__(
            f"case {case_id}: expected version {expected_version}, "
            f"but the stream is at {actual_version}"
        )
        self.case_id = case_id
        self.expected_version = expected_version
        self.actual_version = actual_version


class DuplicateEventError(CaselineError):
    """An event id is already stored with different content or in another stream."""


class UnknownEventType(CaselineError):
    """No event class is registered under that type name."""


class SchemaError(CaselineError):
    """A stored or received payload does not fit its event schema."""


class ChainBroken(CaselineError):
    """A case's hash chain does not verify: an event was altered, removed or reordered."""


class InfrastructureUnavailable(CaselineError):
    """Kafka or PostgreSQL could not be reached or started."""


class InsecureConfiguration(CaselineError):
    """A process would run on public development secrets outside development mode, or on a
    moved calendar outside a training network."""


class AuthError(CaselineError):
    """A bearer token is missing, malformed, expired or not signed by this network."""


class Forbidden(CaselineError):
    """A valid token whose holder lacks the right for the action."""


class RuleViolation(CaselineError):
    """A command the domain rules refuse in the stream's current state; nothing is written."""

    def __init__(self, reason: str, *, rule: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


class NotFound(CaselineError):
    """The case, agency or record a request names does not exist."""
