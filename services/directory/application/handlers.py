"""The directory's application layer: its ports, and one handler per stream.

A directory stream is one agency: its id is the stream id, the envelope's `case_id` and the
Kafka key, and the metadata's `agency_id` names that same agency (the agency the event is
about), whoever the acting administrator is. The network's own members have a stream too,
that of the reserved agency `network`.

Handlers orchestrate I/O only: the command path loads the stream, runs the pure `decide`
and appends at the version it read, in one transaction. They take the `Directory` ports as
a parameter; `bootstrap.compose` builds them once when the service starts (and the
`caseline enroll` command builds them once for its one command).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.directory.adapters.read_model import DirectoryReadModel
from services.directory.domain.commands import (
    AgencyCommand,
    EnrollNetworkMember,
    NetworkCommand,
    RegisterAgency,
)
from services.directory.domain.events import NetworkRole
from services.directory.domain.model import Agency, decide, evolve
from services.directory.domain.network import Network, decide_network, evolve_network
from shared.application import CommandContext, CommandPath, CommandResult, StreamModel
from shared.clock import agency_today
from shared.envelope import NETWORK, Actor, Role
from shared.store import EventStore

__all__ = ["OPERATOR", "Directory", "agency_today", "enroll", "handle", "handle_network"]


@dataclass(frozen=True)
class Directory:
    """The directory's ports: how its two kinds of stream are run, and what it answers from."""

    agencies: CommandPath[Agency]
    """Every agency's stream: `Agency()` folded by `evolve`."""
    network: CommandPath[Network]
    """The network's own stream: `Network()` folded by `evolve_network`."""
    read_model: DirectoryReadModel
    """The queries routes answer from (eventually consistent: fed through Kafka)."""

    @classmethod
    def over(cls, store: EventStore) -> Directory:
        """The ports over one event store and its pool (the read model shares the pool)."""
        return cls(
            agencies=CommandPath(store, StreamModel(Agency(), evolve)),
            network=CommandPath(store, StreamModel(Network(), evolve_network)),
            read_model=DirectoryReadModel(store.pool),
        )


async def handle(
    directory: Directory, context: CommandContext, command: AgencyCommand
) -> CommandResult[Agency]:
    """Run one command on the stream of `context.agency_id`.

    Raises a `DirectoryError` when the rules refuse it and `ConcurrencyError` when another
    writer appended first; in both cases nothing is written.
    """
    if isinstance(command, RegisterAgency) and command.agency_id != context.agency_id:
        # A caller's slip, not a rule: the stream is the agency the command registers.
        raise ValueError(
            f"registering agency {command.agency_id} on the stream of {context.agency_id}"
        )
    return await directory.agencies.run(
        context.agency_id, context, lambda state, _: decide(state, command)
    )


async def handle_network(
    directory: Directory, actor: Actor, command: NetworkCommand
) -> CommandResult[Network]:
    """Run one command on the network's own stream (the reserved agency `network`)."""
    context = CommandContext(agency_id=NETWORK, actor=actor)
    return await directory.network.run(
        NETWORK, context, lambda state, _: decide_network(state, command)
    )


OPERATOR = Actor(staff_id="operator", role=Role.SYSTEM)
"""Who enrolls from the command line: an operator with access to the directory's database."""


async def enroll(
    directory: Directory, *, staff_id: str, name: str, role: NetworkRole
) -> CommandResult[Network]:
    """Enroll a network member as an operator (`caseline enroll`): the bootstrap of the first
    network administrator, who needs no token; enrolling the same member again records nothing.
    """
    today = agency_today()
    command = EnrollNetworkMember(
        staff_id=staff_id, name=name, role=role, enrolled_on=today, today=today
    )
    return await handle_network(directory, OPERATOR, command)
