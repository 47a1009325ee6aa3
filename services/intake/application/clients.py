"""Intake's use cases on a client rather than a case: reading their details, erasing them,
and the network administrators' queue of possible duplicates (R11).

A read takes one pooled connection (bounded, like every other wait); an erasure reads its
cases on the pool first, then records `ClientErased` on every one of them in one unit of work.
"""

from __future__ import annotations

import asyncpg

from services.intake.adapters.network_review import ReviewItem
from services.intake.adapters.vault import UnknownClient, VaultRecord
from services.intake.application.ports import CaseOnRecord, CaseResult, Intake, on_record
from services.intake.domain.access import ClientFootprint, cases_to_erase, read_access
from services.intake.domain.commands import EraseClient
from services.intake.domain.errors import no_client
from services.intake.domain.model import decide
from shared.auth import Principal
from shared.envelope import Role
from shared.errors import CaselineError, ConcurrencyError
from shared.grants import CASE_AGENCY, AccessDecision, Accessor
from shared.logging import event_context, get_logger

log = get_logger("caseline.intake")

ERASURE_ATTEMPTS = 5
"""An erasure reads its cases before it takes its connection; a race makes it read again."""


async def lock_client(conn: asyncpg.Connection, client_id: str) -> None:
    """Serialise what changes a client's cases (a link, an erasure) until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"intake-client:{client_id}"
    )


def accessor_of(principal: Principal) -> Accessor:
    """Who reads the vault, as its access log records them (ids and codes)."""
    return Accessor(
        staff_id=principal.staff_id, role=principal.role.value, agency_id=principal.agency_id
    )


def acting_on_case(principal: Principal) -> AccessDecision:
    """How staff acting on a case read its client, as the access log records it."""
    # A network administrator acts on any agency's case (`Principal.may_act_for`).
    if principal.role is Role.NETWORK_ADMIN:
        return AccessDecision.allow("network_admin")
    return AccessDecision.allow(CASE_AGENCY)


async def read_client(intake: Intake, principal: Principal, client_id: str) -> VaultRecord:
    """A client's personal details (R11): for staff of an agency with the client's case, or
    of an agency a consent in force names for referral or record transfer; else 404.

    Every read, allowed or refused, is a row of the vault's access log (its own statement,
    outside any transaction: a refusal's row stays though the request answers 404).
    """
    async with intake.connection() as conn:
        footprint = await intake.read_model.client_footprint(conn, client_id)
        decision = read_access(footprint, principal.agency_id, intake.today())
        try:
            record = await intake.vault.read(conn, accessor_of(principal), client_id, decision)
        except UnknownClient as e:
            raise no_client(client_id) from e
    # A log line too: who read whose record, never what it holds.
    log.info(
        "vault.read",
        client_id=client_id,
        staff_id=principal.staff_id,
        agency_id=principal.agency_id,
        allowed=decision.allowed,
        basis=decision.basis,
        erased=record.erased if record else None,
    )
    if record is None:
        # The same answer whether the client does not exist or is not theirs to read:
        # an id must not confirm that a person is known somewhere in the network.
        raise no_client(client_id)
    return record


class ClientCasesChanged(ConcurrencyError):
    """A client's cases changed between reading them and taking the erasure's lock (a race)."""

    def __init__(self, client_id: str, read: int, now: int) -> None:
        CaselineError.__init__(
            self, f"client {client_id}: {read} cases were read, {now} are on record now"
        )
        self.case_id, self.expected_version, self.actual_version = client_id, read, now


async def erase_client(intake: Intake, principal: Principal, client_id: str) -> list[CaseResult]:
    """Destroy the client's key (crypto-shredding) and record `ClientErased` on each case.

    Who may (R11, `access.cases_to_erase`): staff of the one agency holding the client's
    cases, or a network administrator when they span agencies. Each `ClientErased` names
    its case's agency; a network administrator's own agency is recorded beside it.

    The cases' streams are read before the erasure's connection is taken (reading them on
    the pool while holding it would need a second connection); the unit of work then checks
    under the client's lock that the cases are still those read, and each append checks its
    version: a concurrent writer makes the erasure read again, a few times at most.
    """
    with event_context(client_id=client_id):
        for attempt in range(1, ERASURE_ATTEMPTS + 1):
            async with intake.connection() as conn:
                footprint = await intake.read_model.client_footprint(conn, client_id)
            cases = cases_to_erase(footprint, principal.agency_id, principal.role, intake.today())
            loaded = [on_record(await intake.path.load(case_id)) for case_id in cases]
            try:
                results = await _erase(intake, principal, footprint, loaded)
            except ConcurrencyError:
                if attempt == ERASURE_ATTEMPTS:
                    raise
                continue
            log.info(
                "vault.erased", client_id=client_id, staff_id=principal.staff_id, cases=len(cases)
            )
            return results
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _erase(
    intake: Intake, principal: Principal, footprint: ClientFootprint, cases: list[CaseOnRecord]
) -> list[CaseResult]:
    client_id = footprint.client_id
    results: list[CaseResult] = []
    async with intake.path.unit_of_work() as uow:
        await lock_client(uow.conn, client_id)
        now = await intake.read_model.client_footprint(uow.conn, client_id)
        if now.cases != footprint.cases:
            raise ClientCasesChanged(client_id, len(footprint.cases), len(now.cases))
        await intake.vault.erase(uow.conn, client_id)
        for case in cases:
            events = decide(case.loaded.state, EraseClient(client_id=client_id))
            with event_context(case_id=case.case_id):
                results.append(await uow.record(case.loaded, case.context(principal), events))
    return results


async def possible_duplicates_for_review(intake: Intake, limit: int) -> list[ReviewItem]:
    """The network administrators' queue of possible duplicates no agency was told of (R11)."""
    async with intake.connection() as conn:
        return await intake.review.items(conn, limit)
