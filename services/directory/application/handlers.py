"""Command handlers: each loads one agency's stream, decides, and appends at the version read.

A directory stream is one agency: its id is the stream id, the envelope's `case_id` and the
Kafka key, and the metadata's `agency_id` names that same agency (the agency the event is
about), whoever the acting administrator is.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.directory.domain.events import NetworkRole
from services.directory.domain.model import Agency, AgencyCommand, RegisterAgency, decide, evolve
from services.directory.domain.network import (
    EnrollNetworkMember,
    Network,
    NetworkCommand,
    decide_network,
    evolve_network,
)
from shared.application import CommandContext, CommandPath, CommandResult, StreamModel
from shared.envelope import Actor, Role
from shared.principals import NETWORK
from shared.store import EventStore

AGENCY_TIME_ZONE = ZoneInfo("Asia/Seoul")
"""Registration, joining, departure and closure dates are the agencies' calendar dates."""


def agency_today() -> date:
    """Today's date where the agencies are (the rules bound dates by it)."""
    return datetime.now(AGENCY_TIME_ZONE).date()


async def handle(
    store: EventStore, context: CommandContext, command: AgencyCommand
) -> CommandResult[Agency]:
    """Run one command on the stream of `context.agency_id`.

    Raises a `DirectoryError` when the rules refuse it and `ConcurrencyError` when another
    writer appended first; in both cases nothing is written.
    """
    if isinstance(command, RegisterAgency) and command.agency_id != context.agency_id:
        raise ValueError(
            f"registering agency {command.agency_id} on the stream of {context.agency_id}"
        )
    path = CommandPath(store, StreamModel(Agency(), evolve))
    return await path.run(context.agency_id, context, lambda state, _: decide(state, command))


async def handle_network(
    store: EventStore, actor: Actor, command: NetworkCommand
) -> CommandResult[Network]:
    """Run one command on the network's own stream (the reserved agency `network`)."""
    path = CommandPath(store, StreamModel(Network(), evolve_network))
    context = CommandContext(agency_id=NETWORK, actor=actor)
    return await path.run(NETWORK, context, lambda state, _: decide_network(state, command))


OPERATOR = Actor(staff_id="operator", role=Role.SYSTEM)
"""Who enrolls from the command line: an operator with access to the directory's database."""


async def enroll(
    store: EventStore, *, staff_id: str, name: str, role: NetworkRole
) -> CommandResult[Network]:
    """Enroll a network member as an operator (`caseline enroll`): the bootstrap of the first
    network administrator, who needs no token; enrolling the same member again records nothing.
    """
    today = agency_today()
    command = EnrollNetworkMember(
        staff_id=staff_id, name=name, role=role, enrolled_on=today, today=today
    )
    return await handle_network(store, OPERATOR, command)
