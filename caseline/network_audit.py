"""What the directory's events say about a referral's target when it was issued (R9 (b)).

Closure's `ReferralIssued` names the service that meets each need at the target; an auditor
checks it against the directory's own history, up to the moment the referral was recorded:
the service was offered by that agency for that need domain and not withdrawn, and the agency
had not closed by the day of the referral.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.closure.contract import ReferralIssued
from services.directory.contract import AgencyClosed, ServiceOffered, ServiceWithdrawn
from shared.envelope import RecordedEvent
from shared.vocabulary import NeedDomain


@dataclass(frozen=True)
class _Fact:
    at: datetime | None
    agency_id: str
    payload: object


def _facts(directory: Sequence[RecordedEvent[Any]]) -> list[_Fact]:
    return [
        _Fact(e.metadata.recorded_at, e.metadata.case_id, e.payload)
        for e in directory
        if isinstance(e.payload, ServiceOffered | ServiceWithdrawn | AgencyClosed)
    ]


def _network_at(
    facts: list[_Fact], moment: datetime | None
) -> tuple[dict[tuple[str, str], NeedDomain], dict[str, date]]:
    """The services on offer ((agency, service id) -> need) and agency closures known at
    `moment`. A service id is an agency's own: two agencies may each offer `housing-1`."""
    offered: dict[tuple[str, str], NeedDomain] = {}
    closed: dict[str, date] = {}
    for fact in facts:
        if moment is not None and fact.at is not None and fact.at > moment:
            break
        match fact.payload:
            case ServiceOffered(service_id=service_id, need_domain=need):
                offered[(fact.agency_id, service_id)] = need
            case ServiceWithdrawn(service_id=service_id):
                offered.pop((fact.agency_id, service_id), None)
            case AgencyClosed(closed_on=closed_on):
                closed[fact.agency_id] = closed_on
    return offered, closed


def network_violations(
    closure: Sequence[RecordedEvent[Any]], directory: Sequence[RecordedEvent[Any]]
) -> list[str]:
    """Every issued referral whose target the directory did not show able to take it."""
    facts = _facts(directory)
    found: list[str] = []
    for recorded in closure:
        issued = recorded.payload
        if not isinstance(issued, ReferralIssued):
            continue
        offered, closed = _network_at(facts, recorded.metadata.recorded_at)
        target = issued.target.agency_id
        where = f"case {recorded.metadata.case_id}: referral {issued.referral_id} to {target}"
        if target in closed and closed[target] <= issued.issued_on:
            found.append(f"{where}: the directory shows the agency closed on {closed[target]}")
        for covered in issued.covered:
            if offered.get((target, covered.service_id)) != covered.need_domain:
                found.append(
                    f"{where}: the directory shows no service {covered.service_id} of it for "
                    f"{covered.need_domain.value} then"
                )
    return found
