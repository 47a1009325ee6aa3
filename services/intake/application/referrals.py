"""What intake does with closure's events: a referral accepted by an agency opens a linked
inbound-referral case there, once; a terminated case leaves its manager's caseload.

A policy bound to intake's ports, applied in the consumer's transaction: the case opened at
the target has an id derived from the referral and event ids derived from the fact, so a
redelivered `ReferralAccepted` opens nothing more (R9: the loop closes once).
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import asyncpg

from services.closure.contract import CaseTerminated, ReferralAccepted
from services.intake.application.ports import Intake
from services.intake.domain.commands import OpenCase
from services.intake.domain.events import CaseSource
from services.intake.domain.model import CaseState, decide
from shared.application import CommandContext, UnitOfWork
from shared.codec import ReceivedEvent
from shared.consumer import EventHandler
from shared.envelope import Actor, DomainEvent, Role

CLOSURE_READS: tuple[type[DomainEvent], ...] = (ReferralAccepted, CaseTerminated)
"""The closure events intake reads; others on closure's topic pass by."""

REFERRED_CASE_IDS = uuid.UUID("c41d7b2e-5a90-4f38-8d16-0e7b3a9f52c4")
"""The namespace of the ids of cases opened for accepted referrals (one per referral)."""

REFERRALS = Actor(staff_id="intake-referrals", role=Role.SYSTEM)
"""Who the events of a case opened for an accepted referral name as their actor."""


def referred_case_id(referral_id: str) -> str:
    """The id of the case an accepted referral opens at its target: always the same one."""
    return f"case-{uuid.uuid5(REFERRED_CASE_IDS, referral_id).hex}"


def closure_policy(intake: Intake) -> EventHandler:
    """The consumer handler applying closure's events to intake."""

    async def apply(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        meta = event.envelope.metadata
        match event.envelope.payload:
            case ReferralAccepted(referral_id=referral_id, target=target):
                await _open_referred_case(
                    intake, conn, referral_id, target.agency_id, meta.agency_id, meta.case_id
                )
            case CaseTerminated(terminated_on=terminated_on):
                await intake.read_model.record_ending(conn, meta.case_id, terminated_on)

    return apply


async def _open_referred_case(
    intake: Intake,
    conn: asyncpg.Connection,
    referral_id: str,
    target_agency_id: str,
    referring_agency_id: str,
    referring_case_id: str,
) -> None:
    case_id = referred_case_id(referral_id)
    loaded = await intake.path.load(case_id, connection=conn)
    if loaded.exists:
        return  # opened already: the loop closes once
    opening = replace(loaded, state=CaseState.opened_in(target_agency_id))
    command = OpenCase(
        source=CaseSource.INBOUND_REFERRAL,
        referring_agency_id=referring_agency_id,
        referring_case_id=referring_case_id,
    )
    context = CommandContext(
        agency_id=target_agency_id, actor=REFERRALS, derived_ids=REFERRED_CASE_IDS
    )
    await UnitOfWork(intake.path, conn).record(opening, context, decide(opening.state, command))
