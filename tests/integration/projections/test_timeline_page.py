"""The case timeline page in a real headless browser: Debian's chromium driven by Playwright.

The page is served over real HTTP (uvicorn on a free local port, the running app's lifespan
already open), the auditor's token sent as a bearer header (`extra_http_headers`), and the
test reads what a person sees: the event rows in the order they happened, across services
and agencies, and the referral chain from the case to the one it was referred to.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import async_playwright

from caseline.infra.browser import ensure_chromium
from tests.harness import eventually
from tests.integration.projections.conftest import AGENCY, PARTNER, Projections
from tests.integration.projections.stories import referred_case

REFERRING_CASE = [
    ("intake", "CaseFound"),
    ("intake", "ClientRegistered"),
    ("intake", "CaseAssessed"),
    ("intake", "CaseAssigned"),
    ("careplan", "PlanVersionDrafted"),
    ("careplan", "PlanAgreed"),
    ("careplan", "ItemLinked"),
    ("careplan", "ServiceDelivered"),
    ("monitoring", "ReviewRecorded"),
    ("monitoring", "FormSent"),
    ("monitoring", "FormOverdue"),
    ("monitoring", "EvaluationRecorded"),
    ("closure", "CaseTerminated"),
    ("closure", "ReferralIssued"),
    ("closure", "ReferralAccepted"),
    ("closure", "ReferralCompleted"),
]
"""The referring case's events, in the order its services recorded them."""


@pytest.fixture(scope="module")
async def base_url(projections: Projections) -> AsyncIterator[str]:
    """The running app served over HTTP on a free local port (its lifespan is already open)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            projections.served.app, host="127.0.0.1", port=port, lifespan="off", log_level="error"
        )
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), bool, "uvicorn started")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _rows(projections: Projections, case_id: str) -> int:
    answer = await projections.served.http.get(
        f"/cases/{case_id}/timeline", headers=projections.auth("auditor-1")
    )
    return answer.text.count('<tr class="event">')


async def test_an_auditor_sees_a_case_s_events_in_order_and_its_referral_chain_in_a_browser(
    projections: Projections, base_url: str, tmp_path: Path
) -> None:
    case_id, linked_id = await referred_case(projections)
    await eventually(
        lambda: _rows(projections, case_id),
        lambda rows: rows == len(REFERRING_CASE) + 1,
        "every event of the chain projected",
    )
    chromium = ensure_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox"]
        )
        try:
            context = await browser.new_context(
                extra_http_headers=projections.auth("auditor-1"),
                viewport={"width": 1400, "height": 1000},
            )
            page = await context.new_page()
            answer = await page.goto(f"{base_url}/cases/{case_id}/timeline")
            assert answer is not None and answer.status == 200
            assert await page.locator("h1").inner_text() == f"Case {case_id}"

            rows = page.locator("#events tbody tr")
            seen = [
                (cells[2], cells[5], cells[1], cells[3], cells[4])
                for cells in [
                    (await rows.nth(i).locator("td").all_inner_texts())
                    for i in range(await rows.count())
                ]
            ]
            assert [(service, kind) for service, kind, *_ in seen] == [
                *REFERRING_CASE,
                ("intake", "CaseFound"),
            ]
            assert {(case, agency) for _, _, case, agency, _ in seen[:-1]} == {(case_id, AGENCY)}
            assert seen[-1][2:4] == (linked_id, PARTNER)
            assert seen[12][4] == "supervisor"

            chain = page.locator("#chain li")
            assert await chain.count() == 2
            texts = await chain.all_inner_texts()
            assert texts[0].startswith(case_id) and "referral completed to " + PARTNER in texts[0]
            assert texts[1].startswith(linked_id) and PARTNER in texts[1]
            assert await page.locator("#chain li.current").get_attribute("data-case") == case_id

            shot = tmp_path / "timeline.png"
            await page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 0
        finally:
            await browser.close()


async def test_a_supervisor_sees_only_their_own_agency_s_events_and_a_case_manager_is_refused(
    projections: Projections,
) -> None:
    case_id, linked_id = await referred_case(projections)
    await eventually(
        lambda: _rows(projections, case_id),
        lambda rows: rows == len(REFERRING_CASE) + 1,
        "every event of the chain projected",
    )
    http = projections.served.http
    page = await http.get(f"/cases/{case_id}/timeline", headers=projections.auth("sup-north"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count('<tr class="event">') == len(REFERRING_CASE)
    # The chain says it runs on at the partner agency, never which case it is there, and no
    # event's codes name it (R11); its events stay out.
    assert linked_id not in page.text
    assert f"a case at another agency ({PARTNER}, found" in page.text
    theirs = await http.get(f"/cases/{case_id}/timeline", headers=projections.auth("sup-south"))
    assert theirs.status_code == 404
    manager = await http.get(f"/cases/{case_id}/timeline", headers=projections.auth("cm-north"))
    assert manager.status_code == 403
