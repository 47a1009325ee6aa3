"""The directory's rules on the pure domain: decide and evolve, no Kafka, no database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.directory.domain.checks import HORIZON
from services.directory.domain.commands import (
    AddDepartment,
    AddStaff,
    AgencyCommand,
    ChangeCapacity,
    ChangeCaseloadLimit,
    CloseAgency,
    OfferService,
    RecordStaffDeparture,
    RegisterAgency,
    WithdrawService,
)
from services.directory.domain.errors import (
    R12,
    AgencyAlreadyRegistered,
    AgencyIsClosed,
    AgencyNotRegistered,
    DirectoryError,
    DuplicateId,
    InvalidCapacity,
    InvalidCaseloadLimit,
    InvalidDate,
    InvalidName,
    StaffNotActive,
    UnknownDepartment,
    UnknownService,
    UnknownStaff,
)
from services.directory.domain.events import (
    AgencyClosed,
    AgencyRegistered,
    CapacityChanged,
    CaseloadLimitChanged,
    DepartmentAdded,
    ServiceOffered,
    ServiceWithdrawn,
    StaffDeparted,
    StaffJoined,
)
from services.directory.domain.model import Agency, decide, evolve, replay
from shared.envelope import DomainEvent, registry
from shared.errors import RuleViolation
from shared.vocabulary import NeedDomain, ResourceKind

JOINED = date(2025, 3, 2)
TODAY = date(2025, 9, 1)


def registered_events() -> list[DomainEvent]:
    return [AgencyRegistered(agency_id="ag-seoul", name="Seoul Welfare", region="Seoul")]


def registered() -> Agency:
    return replay(registered_events())


def with_housing(capacity: int = 2, waiting_list: int = 0) -> Agency:
    state = evolve(registered(), DepartmentAdded(department_id="dep-housing", name="Housing"))
    state = evolve(
        state,
        ServiceOffered(
            service_id="svc-shelter",
            name="Emergency shelter",
            need_domain=NeedDomain.HOUSING,
            resource=ResourceKind.FORMAL,
            department_id="dep-housing",
            capacity=capacity,
        ),
    )
    if waiting_list:
        state = evolve(
            state,
            CapacityChanged(service_id="svc-shelter", capacity=capacity, waiting_list=waiting_list),
        )
    return state


def with_manager(limit: int = 10) -> Agency:
    return evolve(
        registered(),
        StaffJoined(
            staff_id="st-kim",
            name="Kim",
            role="case_manager",
            caseload_limit=limit,
            joined_on=JOINED,
        ),
    )


def closed() -> Agency:
    return evolve(with_manager(), AgencyClosed(closed_on=date(2025, 6, 30), reason="funding ended"))


def decided(state: Agency, command: AgencyCommand) -> list[DomainEvent]:
    """Decide, then check the events fold without surprise (evolve accepts what decide made)."""
    events = decide(state, command)
    for event in events:
        state = evolve(state, event)
    return events


# --- registration ------------------------------------------------------------------------


def test_registering_an_agency_records_it() -> None:
    events = decided(
        Agency(),
        RegisterAgency(registered_on=TODAY, agency_id="ag-1", name="Busan Hub", region="Busan"),
    )
    assert events == [
        AgencyRegistered(agency_id="ag-1", name="Busan Hub", region="Busan", registered_on=TODAY)
    ]
    state = replay(events)
    assert state.registered and state.status == "active" and state.name == "Busan Hub"


def test_an_agency_is_registered_only_once() -> None:
    with pytest.raises(AgencyAlreadyRegistered):
        decide(
            registered(),
            RegisterAgency(registered_on=TODAY, agency_id="ag-seoul", name="Again", region="Seoul"),
        )


def test_a_blank_agency_name_is_refused() -> None:
    with pytest.raises(InvalidName, match="name"):
        decide(
            Agency(),
            RegisterAgency(registered_on=TODAY, agency_id="ag-1", name="   ", region="Busan"),
        )


@pytest.mark.parametrize(
    "command",
    [
        AddDepartment(department_id="dep-1", name="Housing"),
        OfferService(
            service_id="svc-1",
            name="Food bank",
            need_domain=NeedDomain.FOOD,
            resource=ResourceKind.INFORMAL,
            capacity=5,
        ),
        WithdrawService(service_id="svc-1", reason="no funds"),
        ChangeCapacity(service_id="svc-1", capacity=1),
        CloseAgency(today=TODAY, closed_on=date(2025, 1, 1), reason="merged"),
        AddStaff(today=TODAY, staff_id="st-1", name="Lee", role="supervisor", joined_on=JOINED),
        ChangeCaseloadLimit(staff_id="st-1", caseload_limit=3),
        RecordStaffDeparture(today=TODAY, staff_id="st-1", departed_on=JOINED, reason="moved"),
    ],
    ids=lambda c: type(c).__name__,
)
def test_nothing_is_recorded_for_an_agency_before_it_is_registered(
    command: AgencyCommand,
) -> None:
    with pytest.raises(AgencyNotRegistered, match="register it before"):
        decide(Agency(), command)


# --- closure -----------------------------------------------------------------------------


def test_closing_an_agency_records_the_date_and_reason() -> None:
    events = decided(
        registered(), CloseAgency(today=TODAY, closed_on=date(2025, 6, 30), reason="funding ended")
    )
    assert events == [AgencyClosed(closed_on=date(2025, 6, 30), reason="funding ended")]
    assert replay([*registered_events(), *events]).status == "closed"


@pytest.mark.parametrize(
    "command",
    [
        RegisterAgency(registered_on=TODAY, agency_id="ag-seoul", name="Reopened", region="Seoul"),
        AddDepartment(department_id="dep-2", name="Legal aid"),
        OfferService(
            service_id="svc-2",
            name="Legal clinic",
            need_domain=NeedDomain.LEGAL,
            resource=ResourceKind.FORMAL,
            capacity=1,
        ),
        CloseAgency(today=TODAY, closed_on=date(2025, 7, 1), reason="closing twice"),
        AddStaff(
            today=TODAY,
            staff_id="st-park",
            name="Park",
            role="case_manager",
            caseload_limit=5,
            joined_on=JOINED,
        ),
        ChangeCaseloadLimit(staff_id="st-kim", caseload_limit=12),
        RecordStaffDeparture(
            today=TODAY, staff_id="st-kim", departed_on=date(2025, 7, 1), reason="left"
        ),
    ],
    ids=lambda c: type(c).__name__,
)
def test_a_closed_agency_refuses_every_further_command(command: AgencyCommand) -> None:
    with pytest.raises(DirectoryError) as refused:
        decide(closed(), command)
    # Registering again is refused as a re-registration; everything else for the closure.
    assert isinstance(refused.value, AgencyIsClosed | AgencyAlreadyRegistered)
    if not isinstance(command, RegisterAgency):
        assert "closed on 2025-06-30" in str(refused.value)


def test_a_blank_closure_reason_is_refused() -> None:
    with pytest.raises(InvalidName, match="reason"):
        decide(registered(), CloseAgency(today=TODAY, closed_on=date(2025, 6, 30), reason=""))


# --- departments and services --------------------------------------------------------------


def test_department_ids_are_unique_within_the_agency() -> None:
    with pytest.raises(DuplicateId, match="dep-housing"):
        decide(with_housing(), AddDepartment(department_id="dep-housing", name="Other"))


def test_offering_a_service_records_its_domain_resource_and_open_places() -> None:
    state = with_housing()
    events = decided(
        state,
        OfferService(
            service_id="svc-peer",
            name="Peer support",
            need_domain=NeedDomain.SOCIAL_ISOLATION,
            resource=ResourceKind.INFORMAL,
            capacity=0,
        ),
    )
    assert events == [
        ServiceOffered(
            service_id="svc-peer",
            name="Peer support",
            need_domain=NeedDomain.SOCIAL_ISOLATION,
            resource=ResourceKind.INFORMAL,
            capacity=0,
        )
    ]


def test_service_ids_are_unique_within_the_agency_even_after_withdrawal() -> None:
    state = evolve(with_housing(), ServiceWithdrawn(service_id="svc-shelter", reason="closed"))
    with pytest.raises(DuplicateId, match="never reused"):
        decide(
            state,
            OfferService(
                service_id="svc-shelter",
                name="Shelter again",
                need_domain=NeedDomain.HOUSING,
                resource=ResourceKind.FORMAL,
                capacity=1,
            ),
        )


def test_a_service_of_an_unknown_department_is_refused() -> None:
    with pytest.raises(UnknownDepartment, match="dep-nowhere"):
        decide(
            registered(),
            OfferService(
                service_id="svc-1",
                name="Meals",
                need_domain=NeedDomain.FOOD,
                resource=ResourceKind.FORMAL,
                department_id="dep-nowhere",
                capacity=3,
            ),
        )


def test_r12_a_service_cannot_offer_negative_places() -> None:
    """R12: open places are a count; a full service has 0 places and a waiting list."""
    with pytest.raises(InvalidCapacity) as refused:
        decide(
            registered(),
            OfferService(
                service_id="svc-1",
                name="Meals",
                need_domain=NeedDomain.FOOD,
                resource=ResourceKind.FORMAL,
                capacity=-1,
            ),
        )
    assert refused.value.rule == R12


def test_withdrawing_a_service_records_the_reason() -> None:
    events = decided(with_housing(), WithdrawService(service_id="svc-shelter", reason="no staff"))
    assert events == [ServiceWithdrawn(service_id="svc-shelter", reason="no staff")]


def test_withdrawing_an_unknown_service_is_refused() -> None:
    with pytest.raises(UnknownService, match="svc-ghost"):
        decide(with_housing(), WithdrawService(service_id="svc-ghost", reason="?"))


def test_withdrawing_a_service_twice_is_refused() -> None:
    state = evolve(with_housing(), ServiceWithdrawn(service_id="svc-shelter", reason="closed"))
    with pytest.raises(UnknownService, match="withdrawn"):
        decide(state, WithdrawService(service_id="svc-shelter", reason="again"))


# --- capacity and waiting lists (R12) ------------------------------------------------------


def test_r12_a_full_service_keeps_a_waiting_list() -> None:
    """R12: when a provider is at capacity, new clients join its waiting list."""
    events = decided(
        with_housing(), ChangeCapacity(service_id="svc-shelter", capacity=0, waiting_list=4)
    )
    assert events == [CapacityChanged(service_id="svc-shelter", capacity=0, waiting_list=4)]
    state = evolve(with_housing(), events[0])
    service = state.services["svc-shelter"]
    assert (service.capacity, service.waiting_list) == (0, 4)


@pytest.mark.parametrize(("capacity", "waiting_list"), [(-1, 0), (0, -3)])
def test_r12_open_places_and_waiting_lists_are_never_negative(
    capacity: int, waiting_list: int
) -> None:
    """R12: capacity and waiting lists are counts of people."""
    with pytest.raises(InvalidCapacity, match="negative") as refused:
        decide(
            with_housing(),
            ChangeCapacity(service_id="svc-shelter", capacity=capacity, waiting_list=waiting_list),
        )
    assert refused.value.rule == R12
    assert isinstance(refused.value, RuleViolation)


def test_r12_capacity_of_a_withdrawn_service_cannot_change() -> None:
    state = evolve(with_housing(), ServiceWithdrawn(service_id="svc-shelter", reason="closed"))
    with pytest.raises(UnknownService):
        decide(state, ChangeCapacity(service_id="svc-shelter", capacity=3))


def test_an_unchanged_capacity_records_nothing() -> None:
    state = with_housing(capacity=0, waiting_list=2)
    assert decide(state, ChangeCapacity(service_id="svc-shelter", capacity=0, waiting_list=2)) == []


# --- staff and caseload limits (R12) -------------------------------------------------------


def test_a_case_manager_joins_with_a_caseload_limit() -> None:
    events = decided(
        with_housing(),
        AddStaff(
            today=TODAY,
            staff_id="st-choi",
            name="Choi",
            role="case_manager",
            caseload_limit=15,
            department_id="dep-housing",
            joined_on=JOINED,
        ),
    )
    assert events == [
        StaffJoined(
            staff_id="st-choi",
            name="Choi",
            role="case_manager",
            caseload_limit=15,
            department_id="dep-housing",
            joined_on=JOINED,
        )
    ]


@pytest.mark.parametrize("limit", [None, 0, -2])
def test_r12_a_case_manager_needs_a_caseload_limit_of_at_least_one(limit: int | None) -> None:
    """R12: the caseload limit is what keeps a case manager from overload."""
    with pytest.raises(InvalidCaseloadLimit) as refused:
        decide(
            registered(),
            AddStaff(
                today=TODAY,
                staff_id="st-choi",
                name="Choi",
                role="case_manager",
                caseload_limit=limit,
                joined_on=JOINED,
            ),
        )
    assert refused.value.rule == R12


def test_r12_a_supervisor_needs_no_caseload_limit() -> None:
    """R12: limits guard case managers; a supervisor joins without one (recorded as 0)."""
    events = decided(
        registered(),
        AddStaff(today=TODAY, staff_id="st-boss", name="Han", role="supervisor", joined_on=JOINED),
    )
    assert events == [
        StaffJoined(
            staff_id="st-boss", name="Han", role="supervisor", caseload_limit=0, joined_on=JOINED
        )
    ]


def test_r12_a_supervisor_limit_is_never_negative() -> None:
    with pytest.raises(InvalidCaseloadLimit, match="negative"):
        decide(
            registered(),
            AddStaff(
                today=TODAY,
                staff_id="st-boss",
                name="Han",
                role="supervisor",
                caseload_limit=-1,
                joined_on=JOINED,
            ),
        )


def test_staff_ids_are_unique_within_the_agency_even_after_departure() -> None:
    state = evolve(
        with_manager(), StaffDeparted(staff_id="st-kim", departed_on=JOINED, reason="moved")
    )
    with pytest.raises(DuplicateId, match="never reused"):
        decide(
            state,
            AddStaff(
                today=TODAY,
                staff_id="st-kim",
                name="Kim",
                role="case_manager",
                caseload_limit=3,
                joined_on=JOINED,
            ),
        )


def test_staff_of_an_unknown_department_is_refused() -> None:
    with pytest.raises(UnknownDepartment):
        decide(
            registered(),
            AddStaff(
                today=TODAY,
                staff_id="st-1",
                name="Lee",
                role="supervisor",
                department_id="dep-x",
                joined_on=JOINED,
            ),
        )


def test_r12_changing_a_caseload_limit_records_it() -> None:
    events = decided(with_manager(10), ChangeCaseloadLimit(staff_id="st-kim", caseload_limit=8))
    assert events == [CaseloadLimitChanged(staff_id="st-kim", caseload_limit=8)]
    assert evolve(with_manager(10), events[0]).staff["st-kim"].caseload_limit == 8


def test_r12_a_case_managers_limit_cannot_drop_below_one() -> None:
    with pytest.raises(InvalidCaseloadLimit) as refused:
        decide(with_manager(), ChangeCaseloadLimit(staff_id="st-kim", caseload_limit=0))
    assert refused.value.rule == R12


def test_an_unchanged_caseload_limit_records_nothing() -> None:
    assert decide(with_manager(10), ChangeCaseloadLimit(staff_id="st-kim", caseload_limit=10)) == []


def test_the_limit_of_an_unknown_staff_member_cannot_change() -> None:
    with pytest.raises(UnknownStaff):
        decide(with_manager(), ChangeCaseloadLimit(staff_id="st-nobody", caseload_limit=4))


def test_a_departure_records_the_date_and_reason() -> None:
    events = decided(
        with_manager(),
        RecordStaffDeparture(
            today=TODAY, staff_id="st-kim", departed_on=date(2025, 9, 1), reason="moved city"
        ),
    )
    assert events == [
        StaffDeparted(staff_id="st-kim", departed_on=date(2025, 9, 1), reason="moved city")
    ]
    member = evolve(with_manager(), events[0]).staff["st-kim"]
    assert not member.active and member.departed_on == date(2025, 9, 1)


def test_only_active_staff_can_depart() -> None:
    state = evolve(
        with_manager(), StaffDeparted(staff_id="st-kim", departed_on=date(2025, 9, 1), reason="x")
    )
    with pytest.raises(StaffNotActive, match="departed on 2025-09-01"):
        decide(
            state,
            RecordStaffDeparture(
                today=TODAY, staff_id="st-kim", departed_on=date(2025, 9, 2), reason="y"
            ),
        )


def test_unknown_staff_cannot_depart() -> None:
    with pytest.raises(UnknownStaff):
        decide(
            with_manager(),
            RecordStaffDeparture(
                today=TODAY, staff_id="st-ghost", departed_on=JOINED, reason="left"
            ),
        )


def test_a_departed_member_s_limit_cannot_change() -> None:
    state = evolve(
        with_manager(), StaffDeparted(staff_id="st-kim", departed_on=date(2025, 9, 1), reason="x")
    )
    with pytest.raises(StaffNotActive):
        decide(state, ChangeCaseloadLimit(staff_id="st-kim", caseload_limit=3))


def test_a_departure_cannot_come_before_joining() -> None:
    with pytest.raises(InvalidDate, match="before joining on 2025-03-02"):
        decide(
            with_manager(),
            RecordStaffDeparture(
                today=TODAY, staff_id="st-kim", departed_on=date(2025, 3, 1), reason="left"
            ),
        )


def test_departing_on_the_day_of_joining_is_allowed() -> None:
    assert decide(
        with_manager(),
        RecordStaffDeparture(today=TODAY, staff_id="st-kim", departed_on=JOINED, reason="left"),
    ) == [StaffDeparted(staff_id="st-kim", departed_on=JOINED, reason="left")]


# --- the refusals and the state --------------------------------------------------------------


def test_every_refusal_is_a_rule_violation_with_a_reason() -> None:
    with pytest.raises(RuleViolation) as refused:
        decide(closed(), AddDepartment(department_id="d", name="n"))
    assert isinstance(refused.value, DirectoryError)
    assert refused.value.reason == str(refused.value)


def test_the_state_is_folded_from_the_whole_stream() -> None:
    state = replay(
        [
            *registered_events(),
            DepartmentAdded(department_id="dep-1", name="Care"),
            ServiceOffered(
                service_id="svc-1",
                name="Home care",
                need_domain=NeedDomain.DAILY_LIVING_CARE,
                resource=ResourceKind.FORMAL,
                department_id="dep-1",
                capacity=3,
            ),
            CapacityChanged(service_id="svc-1", capacity=0, waiting_list=2),
            StaffJoined(
                staff_id="st-1",
                name="Yoon",
                role="case_manager",
                caseload_limit=9,
                joined_on=JOINED,
            ),
            CaseloadLimitChanged(staff_id="st-1", caseload_limit=12),
            AgencyClosed(closed_on=date(2025, 12, 31), reason="merged"),
        ]
    )
    assert state.status == "closed"
    assert set(state.departments) == {"dep-1"}
    assert state.services["svc-1"].waiting_list == 2
    assert state.staff["st-1"].caseload_limit == 12 and state.staff["st-1"].active


# --- dates that make sense ------------------------------------------------------------------

REGISTERED_ON = date(2025, 3, 1)


def registered_this_spring() -> Agency:
    return replay(
        [
            AgencyRegistered(
                agency_id="ag-busan", name="Busan Hub", region="Busan", registered_on=REGISTERED_ON
            )
        ]
    )


def test_registering_an_agency_records_the_day_it_joined_the_network() -> None:
    events = decided(
        Agency(),
        RegisterAgency(
            agency_id="ag-busan", name="Busan Hub", region="Busan", registered_on=REGISTERED_ON
        ),
    )
    assert events == [
        AgencyRegistered(
            agency_id="ag-busan", name="Busan Hub", region="Busan", registered_on=REGISTERED_ON
        )
    ]
    assert replay(events).registered_on == REGISTERED_ON


def test_an_agency_registered_before_the_day_was_recorded_reads_with_no_registration_day() -> None:
    old = registry.load(AgencyRegistered, 1, {"agency_id": "ag-1", "name": "n", "region": "r"})
    assert old.registered_on is None
    assert replay([old]).registered_on is None


@pytest.mark.parametrize(
    "closed_on", [date(1, 1, 1), date(2025, 2, 28)], ids=["year-one", "the-day-before"]
)
def test_an_agency_cannot_close_before_it_was_registered(closed_on: date) -> None:
    with pytest.raises(InvalidDate, match="registered on 2025-03-01"):
        decide(
            registered_this_spring(),
            CloseAgency(closed_on=closed_on, reason="merged", today=TODAY),
        )


def test_an_agency_may_close_on_the_day_it_was_registered() -> None:
    events = decided(
        registered_this_spring(),
        CloseAgency(closed_on=REGISTERED_ON, reason="registered by mistake", today=TODAY),
    )
    assert events == [AgencyClosed(closed_on=REGISTERED_ON, reason="registered by mistake")]


def test_an_agency_of_unknown_registration_day_still_cannot_close_before_1900() -> None:
    with pytest.raises(InvalidDate, match="1900-01-01"):
        decide(registered(), CloseAgency(closed_on=date(1, 1, 1), reason="merged", today=TODAY))


def _join(joined_on: date) -> AddStaff:
    return AddStaff(
        staff_id="st-lee",
        name="Lee",
        role="case_manager",
        caseload_limit=5,
        joined_on=joined_on,
        today=TODAY,
    )


@pytest.mark.parametrize(
    "command",
    [
        _join(date(9999, 12, 31)),
        _join(TODAY + HORIZON + timedelta(days=1)),
        RecordStaffDeparture(
            staff_id="st-kim", departed_on=date(9999, 12, 31), reason="moved", today=TODAY
        ),
        CloseAgency(closed_on=date(9999, 12, 31), reason="merged", today=TODAY),
    ],
    ids=["joins-in-9999", "joins-past-the-horizon", "departs-in-9999", "closes-in-9999"],
)
def test_no_date_lies_more_than_a_year_ahead(command: AgencyCommand) -> None:
    with pytest.raises(InvalidDate, match="more than a year ahead"):
        decide(with_manager(), command)


def test_a_hire_may_be_recorded_up_to_a_year_ahead() -> None:
    events = decided(with_manager(), _join(TODAY + HORIZON))
    assert [e.event_type() for e in events] == ["StaffJoined"]


def test_no_staff_member_joined_before_1900() -> None:
    with pytest.raises(InvalidDate, match="1900-01-01"):
        decide(with_manager(), _join(date(1, 1, 1)))
