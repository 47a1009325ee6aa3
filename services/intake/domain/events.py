"""Events the intake service records (stages 1 and 2, DOMAIN.md); more join with its issue."""

from __future__ import annotations

from enum import StrEnum

from pydantic import model_validator

from shared.envelope import DomainEvent, registry


class CaseSource(StrEnum):
    """How a case was found (stage 1: intake or case finding)."""

    OUTREACH = "outreach"
    WALK_IN = "walk_in"
    SELF_REFERRAL = "self_referral"
    INBOUND_REFERRAL = "inbound_referral"


@registry.register
class CaseFound(DomainEvent):
    """A case was opened: found by outreach, a walk-in, self-referral or an inbound referral."""

    service = "intake"

    source: CaseSource
    referring_agency_id: str | None = None
    referring_case_id: str | None = None

    @model_validator(mode="after")
    def _referral_links_the_referring_case(self) -> CaseFound:
        referred = self.source is CaseSource.INBOUND_REFERRAL
        if referred != (self.referring_case_id is not None):
            raise ValueError("an inbound referral, and only one, names the referring case")
        if referred and not self.referring_agency_id:
            raise ValueError("an inbound referral names the referring agency")
        return self
