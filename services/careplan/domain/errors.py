"""Careplan's refusals: one root, one class per kind of failure, the rule id given at each raise.

Every refusal answers 409 with its rule id and writes nothing; where the stage order is the
reason (R1), the message names the next step.
"""

from __future__ import annotations

from shared.errors import RuleViolation


class CareplanError(RuleViolation):
    """Root of every careplan refusal."""


class StageNotReached(CareplanError):
    """The case has not reached the stage the command belongs to (R1)."""


class PlanIncomplete(CareplanError):
    """A plan version lacks what R3 asks: goals, dates, strengths, items for assessed needs."""


class NeedNotAssessed(CareplanError):
    """An item or reason names a need the assessment did not find (R3)."""


class AgreementRefused(CareplanError):
    """The version or the declined items do not allow this agreement (R4)."""


class ItemDeclined(CareplanError):
    """The client declined the item: it is never activated (R4)."""


class NoConsent(CareplanError):
    """The client's consent does not name the agency for this purpose (R4)."""


class LanguageSupportMissing(CareplanError):
    """The client needs an interpreter and a client-facing item arranges none (R11)."""


class UnknownRecord(CareplanError):
    """The goal, item, link or advocacy named is not in the case's plan."""


class DuplicateRecord(CareplanError):
    """The id is already used in this case: an id names one record only."""


class DirectServiceRefused(CareplanError):
    """A direct service the rules do not allow: another agency, a future date (R5)."""


class LinkRefused(CareplanError):
    """A link the network does not allow: withdrawn service, closed agency (R6a)."""


class LinkOutReasonMissing(CareplanError):
    """The own agency offers the need with room: linking out needs a coded reason (R6a)."""


class AnswerRefused(CareplanError):
    """A partner's answer that does not follow from the link's state."""


class AdvocacyRefused(CareplanError):
    """Advocacy the rules do not allow: the item was received, a step skipped (R6b)."""


class CaseEnded(CareplanError):
    """Closure terminated the case: it takes no further plan command (R8)."""


class ClientErasedError(CareplanError):
    """The client was erased: nothing more is planned or kept (R11)."""
