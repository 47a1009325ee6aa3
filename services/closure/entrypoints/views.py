"""Responses of closure's HTTP API: ids, dates and codes; never a word about a person."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from services.closure.adapters.board import ReferralRow
from services.closure.domain.events import Exclusion, Provider
from services.closure.domain.referral import Option
from services.closure.domain.state import CaseState, Referral, Termination
from shared.application import CommandResult
from shared.vocabulary import NeedDomain


class View(BaseModel):
    """Base of responses."""

    model_config = ConfigDict(frozen=True)


class Recorded(View):
    """What a command recorded: the event types, the stream's version, and the referral."""

    case_id: str
    events: list[str]
    stream_version: int
    referral_id: str | None = None
    referral_status: str | None = None
    target: Provider | None = None

    @classmethod
    def of(cls, result: CommandResult[CaseState]) -> Recorded:
        """The view of a command's result."""
        referral = result.state.referral
        return cls(
            case_id=result.stream_id,
            events=result.event_types,
            stream_version=result.stream_version,
            referral_id=referral.referral_id if referral else None,
            referral_status=referral.status.value if referral else None,
            target=referral.target if referral else None,
        )


class CaseView(View):
    """A case as closure knows it."""

    case_id: str
    agency_id: str | None
    manager_id: str | None
    needs: list[NeedDomain]
    unmet_needs: list[NeedDomain]
    evaluation_permits: bool
    prepared: bool
    approved: bool
    terminated: Termination | None
    referral: Referral | None

    @classmethod
    def of(cls, case_id: str, state: CaseState) -> CaseView:
        """The view of a case's state."""
        return cls(
            case_id=case_id,
            agency_id=state.agency_id,
            manager_id=state.manager_id,
            needs=list(state.needs),
            unmet_needs=list(state.unmet_needs),
            evaluation_permits=state.evaluation_permits,
            prepared=state.prepared,
            approved=state.approved,
            terminated=state.terminated,
            referral=state.referral,
        )


class OptionView(View):
    """One provider: its rank if eligible, else every reason it is excluded."""

    provider: Provider
    eligible: bool
    rank: int | None
    waitlisted: bool
    exclusions: list[Exclusion]
    covered: list[NeedDomain]
    missing: list[NeedDomain]
    """`no_service_for_need`: the needs it has no active service for."""
    full_for: list[NeedDomain]
    """The needs it meets only from a waiting list (full): ranked after those with room."""

    @classmethod
    def of(cls, option: Option) -> OptionView:
        """The view of one option."""
        return cls(
            provider=option.provider,
            eligible=option.eligible,
            rank=option.rank,
            waitlisted=option.waitlisted,
            exclusions=list(option.exclusions),
            covered=[c.need_domain for c in option.covered],
            missing=list(option.missing),
            full_for=list(option.full_for),
        )


class OptionsView(View):
    """`GET /cases/{id}/referral-options`: every candidate ranked, the excluded explained."""

    case_id: str
    needs: list[NeedDomain]
    options: list[OptionView]


class ReferralLine(ReferralRow):
    """A referral on the board or in an inbox, with its age in days."""

    age_days: int

    @classmethod
    def of(cls, row: ReferralRow, today: date) -> ReferralLine:
        """The line of one referral."""
        return cls(**row.model_dump(), age_days=(today - row.since).days)
