"""The network's own members: administrators, auditors and system accounts, on one stream.

They belong to no agency but to the reserved agency `network` (the id their tokens carry),
whose stream is a second aggregate beside the agencies'. Pure, like `model.py`:
`decide_network` returns events or raises a `DirectoryError`, `evolve_network` folds one
event.

Why a module of its own and not split like the agencies' rules: the network's two commands
sit with the agencies' in `commands.py` and its failures are the same kinds (`errors.py`),
so what is left, a state of one mapping and two decisions, reads best on one short page.
Folding it into `model.py` would mix two streams' states in one `evolve`; splitting it
further would scatter eighty lines over three files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType

from services.directory.domain.checks import require_sensible_date, require_text
from services.directory.domain.commands import (
    EnrollNetworkMember,
    NetworkCommand,
    RecordNetworkMemberLeaving,
)
from services.directory.domain.errors import DuplicateId, InvalidDate, StaffNotActive, UnknownStaff
from services.directory.domain.events import NetworkMemberEnrolled, NetworkMemberLeft, NetworkRole
from shared.envelope import DomainEvent


@dataclass(frozen=True)
class NetworkMember:
    """A member of the network, present or gone."""

    staff_id: str
    role: NetworkRole
    enrolled_on: date
    left_on: date | None = None


@dataclass(frozen=True)
class Network:
    """The network's members as its stream tells them."""

    members: Mapping[str, NetworkMember] = field(default_factory=lambda: MappingProxyType({}))

    def with_member(self, member: NetworkMember) -> Network:
        """This state with a member added or replaced."""
        return replace(self, members=MappingProxyType({**self.members, member.staff_id: member}))


def decide_network(state: Network, command: NetworkCommand) -> list[DomainEvent]:
    """The events `command` leads to in `state`, or a `DirectoryError` saying why not."""
    match command:
        case EnrollNetworkMember():
            return _enroll(state, command)
        case RecordNetworkMemberLeaving():
            return _leave(state, command)
    raise TypeError(f"not a network command: {command!r}")  # pragma: no cover


def _enroll(state: Network, command: EnrollNetworkMember) -> list[DomainEvent]:
    require_text(staff_id=command.staff_id, name=command.name)
    known = state.members.get(command.staff_id)
    if known is not None:
        if known.left_on is None and known.role == command.role:
            return []  # already enrolled so: an operator's retry records nothing
        raise DuplicateId(
            f"the network already has a member {command.staff_id} "
            "(member ids are never reused, even after leaving)"
        )
    require_sensible_date(
        f"network member {command.staff_id} enrolling", command.enrolled_on, command.today
    )
    return [
        NetworkMemberEnrolled(
            staff_id=command.staff_id,
            name=command.name,
            role=command.role,
            enrolled_on=command.enrolled_on,
        )
    ]


def _leave(state: Network, command: RecordNetworkMemberLeaving) -> list[DomainEvent]:
    known = state.members.get(command.staff_id)
    if known is None:
        raise UnknownStaff(f"the network has no member {command.staff_id}")
    if known.left_on is not None:
        raise StaffNotActive(f"network member {command.staff_id} left on {known.left_on}")
    require_text(reason=command.reason)
    require_sensible_date(
        f"network member {command.staff_id} leaving", command.left_on, command.today
    )
    if command.left_on < known.enrolled_on:
        raise InvalidDate(
            f"network member {command.staff_id} cannot leave on {command.left_on}, before "
            f"enrolling on {known.enrolled_on}"
        )
    return [
        NetworkMemberLeft(staff_id=command.staff_id, left_on=command.left_on, reason=command.reason)
    ]


def evolve_network(state: Network, event: DomainEvent) -> Network:
    """The state after one recorded event; events of other kinds leave it unchanged."""
    match event:
        case NetworkMemberEnrolled():
            return state.with_member(NetworkMember(event.staff_id, event.role, event.enrolled_on))
        case NetworkMemberLeft():
            member = state.members.get(event.staff_id)
            if member is None:
                return state
            return state.with_member(replace(member, left_on=event.left_on))
    return state
