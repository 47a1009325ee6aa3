"""The overdue scheduler across restarts (R9): it keeps no position of its own, so a service
stopped and started again says an unanswered referral's overdue once, and moves it on once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared.vocabulary import NeedDomain
from tests.integration.closure.conftest import (
    TODAY,
    Stack,
    agency,
    answer,
    enroll_auditor,
    eventually,
    open_case,
    running,
)

pytestmark = pytest.mark.infra


async def test_an_overdue_referral_is_said_once_however_often_the_service_restarts_r9(
    stack: Stack,
) -> None:
    async with running(stack) as first:
        await enroll_auditor(first)
        home = await agency(first, NeedDomain.HOUSING)
        targets = sorted(
            [await agency(first, NeedDomain.HOUSING) for _ in range(2)], key=lambda a: a.agency_id
        )
        case_id, _ = await open_case(first, home, consent_for=tuple(t.agency_id for t in targets))
        await answer(
            await first.http.post(
                f"/cases/{case_id}/termination",
                json={"reason": "manager_left"},
                headers=home.supervisor,
            ),
            201,
        )
    stack.clock.day = TODAY + timedelta(days=20)
    try:
        for _ in range(3):
            async with running(stack) as again:
                events = await eventually(
                    lambda: again.events(case_id),
                    lambda e: "ReferralOverdue" in e,
                    "overdue after a restart",
                )
                await asyncio.sleep(0.5)  # a few more passes
                events = await again.events(case_id)
                assert events.count("ReferralOverdue") == 1, events
                assert events.count("ReferralIssued") == 2, events
    finally:
        stack.clock.day = TODAY
