"""Intake's commands: what staff ask of a case, validated before any rule is asked.

Frozen and pure. What the rules need to know from outside the case (the clients with the
same name and birth date, a case manager's roster entry and caseload, today's date) arrives
in the command, looked up by the application layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.intake.domain.events import (
    AssessedNeed,
    CaseSource,
    ConsentPurpose,
    InformationAndReferral,
    OverrideReason,
    ReassignmentReason,
    Risk,
    ScreenOutReason,
    Severity,
    StrengthKind,
)
from shared.envelope import Role
from shared.vocabulary import NeedDomain

MAX_LIST_ITEMS = 50
"""The most items a list in a command holds (problems, needs, strengths, risks, agencies).

Each of these lists names items of a small vocabulary once, so 50 is far past any real
case; the bound refuses a list of millions before it is read item by item.
"""


def _each_once(values: Sequence[object], what: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"each {what} is named once")


class Command(BaseModel):
    """Base of intake's commands: frozen, validated on construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class OpenCase(Command):
    """Open a case found by outreach, a walk-in, self-referral or an inbound referral."""

    source: CaseSource
    referring_agency_id: str | None = Field(default=None, min_length=1)
    referring_case_id: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _referral_links_the_referring_case(self) -> OpenCase:
        referred = self.source is CaseSource.INBOUND_REFERRAL
        if referred and (self.referring_case_id is None or self.referring_agency_id is None):
            raise ValueError("an inbound referral names the referring agency and case")
        if not referred and (self.referring_case_id or self.referring_agency_id):
            raise ValueError("only an inbound referral names a referring agency and case")
        return self


class RegisterClient(Command):
    """Register the case's client as a new person; their details go to the vault under client_id.

    `possible_duplicates` are the clients already registered with the same name and birth
    date that the case's agency knows (R11: the others are never named to it; see
    `access.sort_possible_duplicates`); a new record is made past them only when
    `confirm_new_client` says so.
    """

    client_id: str = Field(min_length=1)
    possible_duplicates: tuple[str, ...] = ()
    confirm_new_client: bool = False


class RegisterReturningClient(Command):
    """Register a client the vault already knows as the case's client.

    `matches` says whether the name and birth date given match that client's record: a
    client is linked by who they are, never by an id alone.
    """

    client_id: str = Field(min_length=1)
    known_to_agency: bool
    """R11: whether the case's agency knows the client (a case of theirs, or their consent
    in force naming it); a client it does not know is an unknown id to it."""
    matches: bool


class RecordConsent(Command):
    """Record the client's consent: which agencies, which purposes, until when (R4)."""

    consent_id: str = Field(min_length=1)
    agencies: tuple[str, ...] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    purposes: tuple[ConsentPurpose, ...] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    valid_from: date
    valid_until: date
    agencies_in_directory: tuple[str, ...] = Field(max_length=MAX_LIST_ITEMS)
    """Those of `agencies` the network's directory knows (intake's roster, from its topic)."""
    today: date


class WithdrawConsent(Command):
    """The client withdraws a consent from today on (R4)."""

    consent_id: str = Field(min_length=1)
    today: date


class ScreenIn(Command):
    """Screening: the client's needs fit case management (R2)."""

    presenting_problems: tuple[NeedDomain, ...] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    chronic: bool = False
    today: date

    @model_validator(mode="after")
    def _each_problem_once(self) -> ScreenIn:
        _each_once(self.presenting_problems, "presenting problem")
        return self


class ScreenOut(Command):
    """Screening: case management does not fit; say why and what the client got instead (R2)."""

    presenting_problems: tuple[NeedDomain, ...] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    reason: ScreenOutReason
    information_and_referral: InformationAndReferral
    today: date

    @model_validator(mode="after")
    def _each_problem_and_domain_once(self) -> ScreenOut:
        _each_once(self.presenting_problems, "presenting problem")
        if len(self.information_and_referral.domains) > MAX_LIST_ITEMS:
            raise ValueError(f"information and referral names at most {MAX_LIST_ITEMS} domains")
        _each_once(self.information_and_referral.domains, "information-and-referral domain")
        return self


class AssessCase(Command):
    """Assess needs by domain, strengths, risks, crisis, language and cultural needs (R11)."""

    needs: tuple[AssessedNeed, ...] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    strengths: tuple[StrengthKind, ...] = Field(default=(), max_length=MAX_LIST_ITEMS)
    risks: tuple[Risk, ...] = Field(default=(), max_length=MAX_LIST_ITEMS)
    crisis: bool = False
    interpreter_needed: bool
    cultural_needs_recorded: bool
    today: date

    @model_validator(mode="after")
    def _each_domain_once_and_a_crisis_names_its_risk(self) -> AssessCase:
        domains = [need.domain for need in self.needs]
        if len(set(domains)) != len(domains):
            raise ValueError("each need domain is assessed once")
        if len({r.kind for r in self.risks}) != len(self.risks):
            raise ValueError("each risk appears once")
        _each_once(self.strengths, "strength")
        if self.crisis and not any(
            r.level in (Severity.HIGH, Severity.CRITICAL) for r in self.risks
        ):
            raise ValueError("a crisis names the high or critical risk that makes it one")
        return self


class RosterEntry(BaseModel):
    """A staff member as intake's roster knows them (from caseline.directory.v1), with caseload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    staff_id: str = Field(min_length=1)
    agency_id: str = Field(min_length=1)
    role: str
    active: bool
    caseload_limit: int = Field(ge=0)
    caseload: int = Field(ge=0, description="Open cases assigned now, before this command.")


class AssignCase(Command):
    """Assign the case to a case manager of its agency (R12)."""

    manager: RosterEntry
    by_role: Role
    override_reason: OverrideReason | None = None
    today: date


class ReassignCase(Command):
    """Move the case to another case manager (R12)."""

    to_manager: RosterEntry
    reason: ReassignmentReason
    by_role: Role
    by_staff_id: str = Field(min_length=1)
    override_reason: OverrideReason | None = None
    today: date


class EraseClient(Command):
    """Erase the client's personal data: the vault key is destroyed (crypto-shredding)."""

    client_id: str = Field(min_length=1)


IntakeCommand = (
    OpenCase
    | RegisterClient
    | RegisterReturningClient
    | RecordConsent
    | WithdrawConsent
    | ScreenIn
    | ScreenOut
    | AssessCase
    | AssignCase
    | ReassignCase
    | EraseClient
)
