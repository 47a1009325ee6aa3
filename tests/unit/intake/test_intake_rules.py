"""Intake's rules on the pure domain: stage order (R1), screening (R2), consent (R4),
erasure (R11) and caseloads (R12). No database, no Kafka."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from services.intake.domain.commands import (
    MAX_LIST_ITEMS,
    AssessCase,
    AssignCase,
    EraseClient,
    IntakeCommand,
    OpenCase,
    ReassignCase,
    RecordConsent,
    RegisterClient,
    RegisterReturningClient,
    RosterEntry,
    ScreenIn,
    ScreenOut,
    WithdrawConsent,
)
from services.intake.domain.errors import (
    CaseloadLimitReached,
    ClientWasErased,
    ConsentNotRecordable,
    ConsentNotWithdrawable,
    IntakeError,
    ManagerCannotTake,
    NoClientYet,
    NoConsent,
    NotEligible,
    PossibleDuplicateClient,
    ReturningClientMismatch,
    WrongStage,
    no_client,
)
from services.intake.domain.events import (
    AssessedNeed,
    CaseAssessed,
    CaseAssigned,
    CaseFound,
    CaseloadOverrideRecorded,
    CaseReassigned,
    CaseScreenedIn,
    CaseScreenedOut,
    CaseSource,
    ClientErased,
    ClientRegistered,
    ConsentPurpose,
    ConsentRecorded,
    ConsentWithdrawn,
    InformationAndReferral,
    InformationAndReferralKind,
    OverrideReason,
    PossibleDuplicateAcknowledged,
    ReassignmentReason,
    Risk,
    RiskKind,
    ScreenOutReason,
    Severity,
    StrengthKind,
)
from services.intake.domain.model import CaseState, Stage, consent_allows, decide, evolve
from shared.envelope import DomainEvent, Role
from shared.errors import NotFound, RuleViolation
from shared.vocabulary import NeedDomain

AGENCY = "agency-mapo"
OTHER_AGENCY = "agency-busan"
TODAY = date(2026, 3, 2)
CLIENT = "client-1"


def run(state: CaseState, command: IntakeCommand) -> tuple[CaseState, list[DomainEvent]]:
    events = decide(state, command)
    for event in events:
        state = evolve(state, event)
    return state, events


def given(*commands: IntakeCommand) -> CaseState:
    state = CaseState.opened_in(AGENCY)
    for command in commands:
        state, _ = run(state, command)
    return state


def consent(
    consent_id: str = "consent-1",
    agencies: tuple[str, ...] = (AGENCY,),
    purposes: tuple[ConsentPurpose, ...] = (ConsentPurpose.CASE_MANAGEMENT,),
    until: date = TODAY + timedelta(days=365),
) -> RecordConsent:
    return RecordConsent(
        consent_id=consent_id,
        agencies=agencies,
        purposes=purposes,
        valid_from=TODAY,
        valid_until=until,
        agencies_in_directory=agencies,
        today=TODAY,
    )


def manager(
    staff_id: str = "staff-lee",
    *,
    caseload: int = 3,
    limit: int = 10,
    agency: str = AGENCY,
    role: str = "case_manager",
    active: bool = True,
) -> RosterEntry:
    return RosterEntry(
        staff_id=staff_id,
        agency_id=agency,
        role=role,
        active=active,
        caseload_limit=limit,
        caseload=caseload,
    )


OPEN = OpenCase(source=CaseSource.WALK_IN)
REGISTER = RegisterClient(client_id=CLIENT)
CONSENT = consent()
SCREEN_IN = ScreenIn(
    presenting_problems=(NeedDomain.HOUSING, NeedDomain.INCOME, NeedDomain.MENTAL_HEALTH),
    today=TODAY,
)
ASSESS = AssessCase(
    needs=(
        AssessedNeed(domain=NeedDomain.HOUSING, severity=Severity.HIGH),
        AssessedNeed(domain=NeedDomain.MENTAL_HEALTH, severity=Severity.MODERATE),
    ),
    strengths=(StrengthKind.FAMILY_SUPPORT,),
    risks=(Risk(kind=RiskKind.HOMELESSNESS, level=Severity.HIGH),),
    interpreter_needed=False,
    cultural_needs_recorded=False,
    today=TODAY,
)


def assign(
    entry: RosterEntry | None = None,
    by: Role = Role.CASE_MANAGER,
    why: OverrideReason | None = None,
) -> AssignCase:
    return AssignCase(manager=entry or manager(), by_role=by, override_reason=why, today=TODAY)


def screen_out() -> ScreenOut:
    return ScreenOut(
        presenting_problems=(NeedDomain.FOOD,),
        reason=ScreenOutReason.SINGLE_SIMPLE_NEED,
        information_and_referral=InformationAndReferral(
            kind=InformationAndReferralKind.REFERRED_TO_SERVICE,
            domains=(NeedDomain.FOOD,),
            referred_agency_id="agency-foodbank",
        ),
        today=TODAY,
    )


# --- the whole path -------------------------------------------------------------------------


def test_a_case_goes_found_registered_screened_assessed_assigned() -> None:
    state = CaseState.opened_in(AGENCY)
    recorded: list[type[DomainEvent]] = []
    for command in (OPEN, REGISTER, CONSENT, SCREEN_IN, ASSESS, assign()):
        state, events = run(state, command)
        recorded += [type(e) for e in events]
    assert recorded == [
        CaseFound,
        ClientRegistered,
        ConsentRecorded,
        CaseScreenedIn,
        CaseAssessed,
        CaseAssigned,
    ]
    assert state.stage is Stage.ASSIGNED
    assert state.assignment is not None and state.assignment.staff_id == "staff-lee"


def test_every_refusal_is_a_rule_violation_with_a_rule_id() -> None:
    with pytest.raises(IntakeError) as refused:
        decide(given(OPEN), SCREEN_IN)
    assert isinstance(refused.value, RuleViolation)
    assert refused.value.rule == "R1"


# --- R1 stage order -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("done", "command", "says"),
    [
        ((), REGISTER, "open the case"),
        ((OPEN,), SCREEN_IN, "register the client"),
        ((OPEN,), ASSESS, "register the client"),
        ((OPEN,), assign(), "register the client"),
        ((OPEN, REGISTER, CONSENT), ASSESS, "screen the case"),
        ((OPEN, REGISTER, CONSENT), assign(), "screen the case"),
        ((OPEN, REGISTER, CONSENT, SCREEN_IN), assign(), "assess the case"),
        ((OPEN, REGISTER, CONSENT, SCREEN_IN, ASSESS), SCREEN_IN, "assign a case manager"),
    ],
)
def test_r1_a_command_that_skips_a_stage_is_refused_with_the_next_step(
    done: tuple[IntakeCommand, ...], command: IntakeCommand, says: str
) -> None:
    with pytest.raises(WrongStage) as refused:
        decide(given(*done), command)
    assert refused.value.rule == "R1"
    assert says in refused.value.reason


def test_r1_a_case_opens_once() -> None:
    with pytest.raises(WrongStage, match="already open"):
        decide(given(OPEN), OPEN)


def test_r1_consent_needs_a_registered_client() -> None:
    with pytest.raises(NoClientYet, match="no registered client"):
        decide(given(OPEN), CONSENT)


def test_r1_an_assigned_case_is_reassigned_not_assigned_again() -> None:
    state = given(OPEN, REGISTER, CONSENT, SCREEN_IN, ASSESS, assign())
    with pytest.raises(WrongStage, match="reassign"):
        decide(state, assign(manager("staff-park")))


def test_r1_an_inbound_referral_is_linked_to_the_referring_case_and_agency() -> None:
    _, events = run(
        CaseState.opened_in(AGENCY),
        OpenCase(
            source=CaseSource.INBOUND_REFERRAL,
            referring_agency_id=OTHER_AGENCY,
            referring_case_id="case-at-busan",
        ),
    )
    assert events == [
        CaseFound(
            source=CaseSource.INBOUND_REFERRAL,
            referring_agency_id=OTHER_AGENCY,
            referring_case_id="case-at-busan",
        )
    ]
    with pytest.raises(ValidationError, match="referring agency and case"):
        OpenCase(source=CaseSource.INBOUND_REFERRAL, referring_case_id="case-at-busan")
    with pytest.raises(ValidationError, match="only an inbound referral"):
        OpenCase(source=CaseSource.WALK_IN, referring_case_id="case-at-busan")


# --- R2 screening ---------------------------------------------------------------------------


def test_r2_a_single_acute_problem_is_not_screened_in() -> None:
    single = ScreenIn(presenting_problems=(NeedDomain.FOOD,), today=TODAY)
    with pytest.raises(NotEligible) as refused:
        decide(given(OPEN, REGISTER, CONSENT), single)
    assert refused.value.rule == "R2"
    assert "information and referral" in refused.value.reason


def test_r2_a_single_chronic_problem_fits_case_management() -> None:
    chronic = ScreenIn(presenting_problems=(NeedDomain.MENTAL_HEALTH,), chronic=True, today=TODAY)
    state, events = run(given(OPEN, REGISTER, CONSENT), chronic)
    assert events == [CaseScreenedIn(presenting_problems=(NeedDomain.MENTAL_HEALTH,), chronic=True)]
    assert state.stage is Stage.SCREENED_IN


def test_r2_screening_out_records_the_reason_and_the_information_and_referral() -> None:
    state, events = run(given(OPEN, REGISTER, CONSENT), screen_out())
    [event] = events
    assert isinstance(event, CaseScreenedOut)
    assert event.reason is ScreenOutReason.SINGLE_SIMPLE_NEED
    assert event.information_and_referral.referred_agency_id == "agency-foodbank"
    assert state.stage is Stage.SCREENED_OUT


def test_r2_screening_out_without_a_reason_or_an_information_and_referral_is_invalid() -> None:
    with pytest.raises(ValidationError) as refused:
        ScreenOut.model_validate({"presenting_problems": ["food"], "today": TODAY.isoformat()})
    missing = {error["loc"][0] for error in refused.value.errors()}
    assert missing == {"reason", "information_and_referral"}


def test_r2_a_referral_outcome_names_the_agency_referred_to() -> None:
    with pytest.raises(ValidationError, match="names the agency"):
        InformationAndReferral(
            kind=InformationAndReferralKind.REFERRED_TO_SERVICE, domains=(NeedDomain.FOOD,)
        )
    given_information = InformationAndReferral(
        kind=InformationAndReferralKind.INFORMATION_GIVEN, domains=(NeedDomain.FOOD,)
    )
    assert given_information.referred_agency_id is None


def test_r2_a_screened_out_case_goes_no_further_in_intake() -> None:
    state = given(OPEN, REGISTER, CONSENT, screen_out())
    for command in (ASSESS, assign(), SCREEN_IN):
        with pytest.raises(WrongStage, match="screened out"):
            decide(state, command)


# --- R4 consent -----------------------------------------------------------------------------


def test_r4_screening_needs_the_clients_consent_to_case_management() -> None:
    with pytest.raises(NoConsent) as refused:
        decide(given(OPEN, REGISTER), SCREEN_IN)
    assert refused.value.rule == "R4"
    assert "consent" in refused.value.reason


def test_r4_consent_for_another_agency_or_purpose_does_not_count() -> None:
    elsewhere = consent(agencies=(OTHER_AGENCY,))
    with pytest.raises(NoConsent):
        decide(given(OPEN, REGISTER, elsewhere), SCREEN_IN)
    referral_only = consent(purposes=(ConsentPurpose.REFERRAL,))
    with pytest.raises(NoConsent):
        decide(given(OPEN, REGISTER, referral_only), SCREEN_IN)


def test_r4_consent_allows_only_its_agencies_purposes_and_period() -> None:
    state = given(
        OPEN,
        REGISTER,
        consent(
            agencies=(AGENCY, OTHER_AGENCY),
            purposes=(ConsentPurpose.CASE_MANAGEMENT, ConsentPurpose.REFERRAL),
            until=date(2026, 12, 31),
        ),
    )
    assert consent_allows(state, OTHER_AGENCY, ConsentPurpose.REFERRAL, TODAY)
    assert consent_allows(state, AGENCY, ConsentPurpose.CASE_MANAGEMENT, date(2026, 12, 31))
    assert not consent_allows(state, AGENCY, ConsentPurpose.CASE_MANAGEMENT, date(2027, 1, 1))
    assert not consent_allows(state, AGENCY, ConsentPurpose.CASE_MANAGEMENT, date(2026, 3, 1))
    assert not consent_allows(state, "agency-elsewhere", ConsentPurpose.REFERRAL, TODAY)
    assert not consent_allows(state, OTHER_AGENCY, ConsentPurpose.EVALUATION, TODAY)


def test_r4_a_withdrawn_consent_allows_nothing_from_that_day_on() -> None:
    withdrawn_on = TODAY + timedelta(days=10)
    state, events = run(
        given(OPEN, REGISTER, CONSENT),
        WithdrawConsent(consent_id="consent-1", today=withdrawn_on),
    )
    assert events == [
        ConsentWithdrawn(consent_id="consent-1", client_id=CLIENT, withdrawn_on=withdrawn_on)
    ]
    purpose = ConsentPurpose.CASE_MANAGEMENT
    assert consent_allows(state, AGENCY, purpose, withdrawn_on - timedelta(days=1))
    assert not consent_allows(state, AGENCY, purpose, withdrawn_on)
    later = SCREEN_IN.model_copy(update={"today": withdrawn_on})
    with pytest.raises(NoConsent):
        decide(state, later)


def test_r4_withdrawing_needs_a_consent_that_is_still_in_force() -> None:
    state = given(OPEN, REGISTER, CONSENT, WithdrawConsent(consent_id="consent-1", today=TODAY))
    with pytest.raises(ConsentNotWithdrawable, match="was withdrawn"):
        decide(state, WithdrawConsent(consent_id="consent-1", today=TODAY))
    with pytest.raises(ConsentNotWithdrawable, match="no consent"):
        decide(state, WithdrawConsent(consent_id="consent-9", today=TODAY))


def test_r4_a_consent_that_already_expired_is_not_recorded() -> None:
    stale = RecordConsent(
        consent_id="consent-2",
        agencies=(AGENCY,),
        purposes=(ConsentPurpose.CASE_MANAGEMENT,),
        valid_from=TODAY - timedelta(days=30),
        valid_until=TODAY - timedelta(days=1),
        agencies_in_directory=(AGENCY,),
        today=TODAY,
    )
    with pytest.raises(ConsentNotRecordable, match="expired"):
        decide(given(OPEN, REGISTER), stale)


def test_r4_a_consent_naming_an_agency_the_directory_does_not_know_is_refused_naming_it() -> None:
    naming_a_stranger = consent(agencies=(AGENCY, "ag-nowhere", "ag-nowhere-2")).model_copy(
        update={"agencies_in_directory": (AGENCY,)}
    )
    with pytest.raises(ConsentNotRecordable, match="'ag-nowhere', 'ag-nowhere-2'") as refused:
        decide(given(OPEN, REGISTER), naming_a_stranger)
    assert refused.value.rule == "R4"
    assert "directory" in refused.value.reason


def test_r4_withdrawing_consent_mid_case_stops_assessment_and_assignment() -> None:
    state = given(
        OPEN,
        REGISTER,
        CONSENT,
        SCREEN_IN,
        WithdrawConsent(consent_id="consent-1", today=TODAY),
    )
    with pytest.raises(NoConsent):
        decide(state, ASSESS)


def test_r4_a_client_may_consent_again_after_withdrawing() -> None:
    state = given(
        OPEN,
        REGISTER,
        CONSENT,
        WithdrawConsent(consent_id="consent-1", today=TODAY),
        consent("consent-2"),
    )
    assert consent_allows(state, AGENCY, ConsentPurpose.CASE_MANAGEMENT, TODAY)


# --- duplicates (one person, one history: R12) ----------------------------------------------


def test_r12_a_possible_duplicate_is_flagged_before_a_second_record_is_made() -> None:
    command = RegisterClient(client_id="client-2", possible_duplicates=("client-1",))
    with pytest.raises(PossibleDuplicateClient) as refused:
        decide(given(OPEN), command)
    assert refused.value.possible_duplicates == ("client-1",)
    assert refused.value.rule == "R12"


def test_r12_staff_may_confirm_a_new_person_and_the_confirmation_is_recorded() -> None:
    command = RegisterClient(
        client_id="client-2", possible_duplicates=("client-1",), confirm_new_client=True
    )
    state, events = run(given(OPEN), command)
    assert events == [
        PossibleDuplicateAcknowledged(client_id="client-2", possible_duplicate_of=("client-1",)),
        ClientRegistered(client_id="client-2"),
    ]
    assert state.client_id == "client-2"


def test_r12_a_returning_client_is_linked_only_when_their_details_match() -> None:
    returning = RegisterReturningClient(client_id="client-1", known_to_agency=True, matches=True)
    _, events = run(given(OPEN), returning)
    assert events == [ClientRegistered(client_id="client-1", returning_client=True)]
    with pytest.raises(ReturningClientMismatch, match="does not match"):
        decide(given(OPEN), returning.model_copy(update={"matches": False}))


def test_r11_a_returning_client_the_agency_does_not_know_is_an_unknown_id_whatever_matches() -> (
    None
):
    for matches in (True, False):
        command = RegisterReturningClient(
            client_id="client-1", known_to_agency=False, matches=matches
        )
        with pytest.raises(NotFound) as refused:
            decide(given(OPEN), command)
        assert str(refused.value) == str(no_client("client-1")) == "no client 'client-1'"


# --- R11 erasure ----------------------------------------------------------------------------


def test_r11_erasure_records_only_the_pseudonymous_client_id() -> None:
    state, events = run(given(OPEN, REGISTER, CONSENT), EraseClient(client_id=CLIENT))
    assert events == [ClientErased(client_id=CLIENT)]
    assert state.client_erased


def test_r11_nothing_more_is_done_with_an_erased_clients_data() -> None:
    state = given(OPEN, REGISTER, CONSENT, EraseClient(client_id=CLIENT))
    with pytest.raises(ClientWasErased) as refused:
        decide(state, SCREEN_IN)
    assert refused.value.rule == "R11"
    with pytest.raises(ClientWasErased):
        decide(state, consent("consent-2"))
    assert not consent_allows(state, AGENCY, ConsentPurpose.CASE_MANAGEMENT, TODAY)


def test_r11_erasing_twice_records_nothing_more() -> None:
    state = given(OPEN, REGISTER, EraseClient(client_id=CLIENT))
    assert decide(state, EraseClient(client_id=CLIENT)) == []


def test_r11_assessment_records_whether_an_interpreter_is_needed() -> None:
    with pytest.raises(ValidationError, match="interpreter_needed"):
        AssessCase.model_validate(
            {
                "needs": [{"domain": "housing", "severity": "high"}],
                "cultural_needs_recorded": True,
                "today": TODAY.isoformat(),
            }
        )
    interpreted = ASSESS.model_copy(
        update={"interpreter_needed": True, "cultural_needs_recorded": True}
    )
    state, [event] = run(given(OPEN, REGISTER, CONSENT, SCREEN_IN), interpreted)
    assert isinstance(event, CaseAssessed)
    assert event.interpreter_needed and event.cultural_needs_recorded
    assert state.interpreter_needed is True


def test_assessment_needs_each_domain_once_and_a_crisis_names_its_risk() -> None:
    with pytest.raises(ValidationError, match="once"):
        AssessCase(
            needs=(
                AssessedNeed(domain=NeedDomain.HOUSING, severity=Severity.LOW),
                AssessedNeed(domain=NeedDomain.HOUSING, severity=Severity.HIGH),
            ),
            interpreter_needed=False,
            cultural_needs_recorded=False,
            today=TODAY,
        )
    with pytest.raises(ValidationError, match="crisis"):
        ASSESS.model_validate({**ASSESS.model_dump(), "crisis": True, "risks": []})
    crisis = ASSESS.model_validate(
        {
            **ASSESS.model_dump(),
            "crisis": True,
            "risks": [{"kind": "self_harm", "level": "critical"}],
        }
    )
    state, _ = run(given(OPEN, REGISTER, CONSENT, SCREEN_IN), crisis)
    assert state.crisis


@pytest.mark.parametrize(
    ("command", "field", "items"),
    [
        (ScreenIn, "presenting_problems", [NeedDomain.HOUSING] * 51),
        (ScreenIn, "presenting_problems", [NeedDomain.HOUSING, NeedDomain.HOUSING]),
        (AssessCase, "strengths", [StrengthKind.COPING] * 51),
        (AssessCase, "strengths", [StrengthKind.COPING, StrengthKind.COPING]),
        (AssessCase, "needs", [{"domain": "housing", "severity": "low"}] * 51),
        (AssessCase, "risks", [{"kind": "homelessness", "level": "low"}] * 51),
    ],
    ids=[
        "problems-51",
        "problems-twice",
        "strengths-51",
        "strengths-twice",
        "needs-51",
        "risks-51",
    ],
)
def test_screening_and_assessment_lists_are_bounded_and_name_each_item_once(
    command: type[ScreenIn] | type[AssessCase], field: str, items: list[object]
) -> None:
    valid = (
        SCREEN_IN.model_dump()
        if command is ScreenIn
        else {**ASSESS.model_dump(), "risks": [], "crisis": False}
    )
    with pytest.raises(ValidationError) as refused:
        command.model_validate({**valid, field: items})
    errors = [(e["type"], e["loc"], e["msg"]) for e in refused.value.errors()]
    if len(items) > MAX_LIST_ITEMS:
        assert errors[0][:2] == ("too_long", (field,)), errors
    else:
        assert any("once" in msg for _, _, msg in errors), errors


# --- R12 caseloads --------------------------------------------------------------------------

ASSESSED = (OPEN, REGISTER, CONSENT, SCREEN_IN, ASSESS)


def test_r12_a_manager_with_room_takes_the_case_without_override() -> None:
    _, events = run(given(*ASSESSED), assign(manager(caseload=9, limit=10)))
    assert events == [
        CaseAssigned(
            staff_id="staff-lee",
            agency_id=AGENCY,
            override=False,
            override_reason=None,
            caseload_after=10,
            caseload_limit=10,
        )
    ]


def test_r12_a_full_caseload_is_refused_to_a_case_manager() -> None:
    with pytest.raises(CaseloadLimitReached) as refused:
        decide(
            given(*ASSESSED),
            assign(manager(caseload=10, limit=10), why=OverrideReason.TEMPORARY_COVER),
        )
    assert refused.value.rule == "R12"
    assert "would carry 11 cases" in refused.value.reason
    assert "only a supervisor" in refused.value.reason


def test_r12_a_supervisor_overrides_a_full_caseload_only_with_a_reason() -> None:
    full = manager(caseload=10, limit=10)
    with pytest.raises(CaseloadLimitReached, match="needs a reason"):
        decide(given(*ASSESSED), assign(full, by=Role.SUPERVISOR))
    _, events = run(
        given(*ASSESSED),
        assign(full, by=Role.SUPERVISOR, why=OverrideReason.CRISIS_NO_ONE_ELSE_AVAILABLE),
    )
    assert events == [
        CaseAssigned(
            staff_id="staff-lee",
            agency_id=AGENCY,
            override=True,
            override_reason="crisis_no_one_else_available",
            caseload_after=11,
            caseload_limit=10,
        )
    ]


def test_r12_an_override_reason_is_not_recorded_when_there_is_room() -> None:
    _, [event] = run(
        given(*ASSESSED), assign(by=Role.SUPERVISOR, why=OverrideReason.SPECIALIST_SKILLS)
    )
    assert isinstance(event, CaseAssigned)
    assert not event.override and event.override_reason is None


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (manager(agency=OTHER_AGENCY), "not to the case's agency"),
        (manager(role="supervisor"), "not a case manager"),
        (manager(active=False), "has left"),
    ],
)
def test_r12_only_an_active_case_manager_of_the_cases_agency_takes_it(
    entry: RosterEntry, says: str
) -> None:
    with pytest.raises(ManagerCannotTake, match=says):
        decide(
            given(*ASSESSED), assign(entry, by=Role.SUPERVISOR, why=OverrideReason.TEMPORARY_COVER)
        )


def test_r12_reassignment_moves_the_case_and_checks_the_new_managers_room() -> None:
    state = given(*ASSESSED, assign())
    reassign = ReassignCase(
        to_manager=manager("staff-park", caseload=2),
        reason=ReassignmentReason.STAFF_DEPARTED,
        by_role=Role.SUPERVISOR,
        by_staff_id="staff-boss",
        today=TODAY,
    )
    state, events = run(state, reassign)
    assert events == [
        CaseReassigned(from_staff_id="staff-lee", to_staff_id="staff-park", reason="staff_departed")
    ]
    assert state.assignment is not None and state.assignment.staff_id == "staff-park"
    with pytest.raises(ManagerCannotTake, match="already carries"):
        decide(state, reassign)


def test_r12_reassigning_past_the_limit_records_the_supervisors_override() -> None:
    state = given(*ASSESSED, assign())
    full = manager("staff-park", caseload=5, limit=5)
    command = ReassignCase(
        to_manager=full,
        reason=ReassignmentReason.CASELOAD_BALANCING,
        by_role=Role.CASE_MANAGER,
        by_staff_id="staff-lee",
        override_reason=OverrideReason.TEMPORARY_COVER,
        today=TODAY,
    )
    with pytest.raises(CaseloadLimitReached, match="only a supervisor"):
        decide(state, command)
    by_supervisor = command.model_copy(
        update={"by_role": Role.SUPERVISOR, "by_staff_id": "staff-boss"}
    )
    _, events = run(state, by_supervisor)
    assert events[1] == CaseloadOverrideRecorded(
        staff_id="staff-park",
        supervisor_id="staff-boss",
        reason="temporary_cover",
        caseload_after=6,
        caseload_limit=5,
    )


def test_r12_reassignment_needs_an_assigned_case() -> None:
    command = ReassignCase(
        to_manager=manager("staff-park"),
        reason=ReassignmentReason.CASELOAD_BALANCING,
        by_role=Role.SUPERVISOR,
        by_staff_id="staff-boss",
        today=TODAY,
    )
    with pytest.raises(WrongStage):
        decide(given(*ASSESSED), command)
