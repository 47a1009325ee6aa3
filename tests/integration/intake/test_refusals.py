"""Intake taking input as people type it, and refusing what it must not take or tell (HTTP)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from tests.integration.intake.conftest import Agency, Network, person, through_intake

NEVER_OPENED = "case-never-opened-anywhere"
# Built from code points, so that the source stays plain ASCII.
FULL_WIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789-"}
ARABIC_INDIC = {ord(str(d)): 0x0660 + d for d in range(10)}


async def open_case(agency: Agency) -> str:
    opened = await agency.net.intake.post(
        "/cases", json={"source": "walk_in"}, headers=agency.manager()
    )
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    return case_id


async def test_a_resident_number_in_full_width_or_arabic_indic_digits_is_stored_in_ascii(
    network: Network, agency: Agency
) -> None:
    for script in (FULL_WIDTH, ARABIC_INDIC):
        details = person()
        typed = {**details, "resident_number": details["resident_number"].translate(script)}
        typed["phone"] = typed["phone"].translate(script)
        case_id = await open_case(agency)
        answer = await network.intake.post(
            f"/cases/{case_id}/registration", json=typed, headers=agency.manager()
        )
        assert answer.status_code == 201, answer.text
        client = await network.intake.get(
            f"/clients/{answer.json()['client_id']}", headers=agency.manager()
        )
        assert client.json()["resident_number_masked"] == details["resident_number"][:8] + "*" * 6
        assert client.json()["phone"] == details["phone"]


async def test_a_wrong_resident_number_in_other_digits_is_a_422_that_never_repeats_it(
    network: Network, agency: Agency
) -> None:
    """R11: a refusal, never a 500 whose traceback carries the number's seventh digit."""
    case_id = await open_case(agency)
    vault_before = await network.vault_rows()
    for wrong in ("710909-1234567".translate(FULL_WIDTH), "710909-1234567".translate(ARABIC_INDIC)):
        answer = await network.intake.post(
            f"/cases/{case_id}/registration",
            json={**person(born=date(1971, 9, 9)), "resident_number": wrong},
            headers=agency.manager(),
        )
        assert answer.status_code == 422, answer.text
        assert [e["loc"] for e in answer.json()["detail"]] == [["body", "resident_number"]]
        assert wrong not in answer.text and wrong[:6] not in answer.text
        assert "710909" not in answer.text
    assert await network.vault_rows() == vault_before
    assert await network.events_in(case_id) == ["CaseFound"]


async def test_another_agencys_case_answers_exactly_like_a_case_that_does_not_exist(
    network: Network, agency: Agency, elsewhere: Agency
) -> None:
    """R11: a case id must not confirm that a case, or its agency, exists elsewhere."""
    case_id, _ = await through_intake(agency)
    events_before = await network.events_in(case_id)
    stranger = elsewhere.manager()
    stranger_id = elsewhere.managers[0]
    bodies: dict[str, dict[str, Any]] = {
        "registration": person(),
        "consents": {
            "agencies": [elsewhere.agency_id],
            "purposes": ["case_management"],
            "valid_until": "2099-12-31",
        },
        "screening": {"outcome": "eligible", "presenting_problems": ["housing", "income"]},
        "assessment": {
            "needs": [{"domain": "housing", "severity": "high"}],
            "interpreter_needed": False,
        },
        "assignment": {"staff_id": stranger_id},
        "reassignment": {"to_staff_id": stranger_id, "reason": "caseload_balancing"},
    }

    async def answers(case: str) -> list[tuple[int, Any]]:
        http = network.intake
        got = [
            await http.get(f"/cases/{case}", headers=stranger),
            await http.get(
                f"/cases/{case}/consent-check",
                params={"agency_id": elsewhere.agency_id, "purpose": "referral"},
                headers=stranger,
            ),
            await http.post(f"/cases/{case}/consents/consent-1/withdrawal", headers=stranger),
        ]
        for step, body in bodies.items():
            got.append(await http.post(f"/cases/{case}/{step}", json=body, headers=stranger))
        return [(a.status_code, a.json()) for a in got]

    unknown = await answers(NEVER_OPENED)
    theirs = await answers(case_id)
    assert unknown == [(404, {"detail": f"no case {NEVER_OPENED!r}"})] * len(unknown)
    assert theirs == [(404, {"detail": f"no case {case_id!r}"})] * len(theirs)
    # Nor can a case be opened under an id of the caller's choosing, theirs or a free one:
    # intake chooses every case id, so opening cannot probe which ids exist.
    for chosen in (case_id, NEVER_OPENED):
        opened = await network.intake.post(
            "/cases", json={"case_id": chosen, "source": "walk_in"}, headers=stranger
        )
        assert opened.status_code == 422 and chosen not in opened.text
    assert all(agency.agency_id not in str(body) for _, body in theirs)
    assert await network.events_in(case_id) == events_before


async def test_control_characters_in_any_text_field_are_a_422_and_write_nothing(
    network: Network, agency: Agency
) -> None:
    """NUL cannot be stored in PostgreSQL; no name, address or note holds a control character."""
    http, headers = network.intake, agency.manager()
    case_id, client_id = await through_intake(agency)
    fresh = await open_case(agency)
    vault_before = await network.vault_rows()
    events_before = await network.events_in(case_id)
    known = person()
    refusals: list[tuple[str, dict[str, Any], str]] = [
        (f"/cases/{fresh}/registration", {**known, "name": "Kim\x00Minjun"}, "name"),
        (f"/cases/{fresh}/registration", {**known, "address": "Mapo\x00-gu"}, "address"),
        (
            f"/cases/{fresh}/registration",
            {**known, "cultural_needs": "halal\x1b[2J"},
            "cultural_needs",
        ),
        (
            f"/cases/{fresh}/returning-client",
            {"client_id": client_id, "name": "Kim\x00", "birth_date": known["birth_date"]},
            "name",
        ),
        (
            f"/cases/{case_id}/assessment",
            {
                "needs": [{"domain": "housing", "severity": "high"}],
                "interpreter_needed": False,
                "cultural_needs": "kosher\x00meals",
            },
            "cultural_needs",
        ),
    ]
    for url, body, field in refusals:
        # json.dumps escapes NUL as \u0000, the way a client sends it.
        answer = await http.post(
            url,
            content=json.dumps(body),
            headers={**headers, "Content-Type": "application/json"},
        )
        assert answer.status_code == 422, f"{url} {field}: {answer.text}"
        assert [e["loc"] for e in answer.json()["detail"]] == [["body", field]], answer.text
    assert await network.vault_rows() == vault_before
    assert await network.events_in(fresh) == ["CaseFound"]
    assert await network.events_in(case_id) == events_before


async def test_cultural_needs_may_run_over_several_lines(network: Network, agency: Agency) -> None:
    case_id = await open_case(agency)
    answer = await network.intake.post(
        f"/cases/{case_id}/registration",
        json={**person(), "cultural_needs": "halal meals\nfemale worker preferred\tif possible"},
        headers=agency.manager(),
    )
    assert answer.status_code == 201, answer.text


async def test_r12_names_without_letters_are_refused_before_any_duplicate_is_looked_up(
    network: Network, agency: Agency
) -> None:
    """R12: emoji-only or invisible names would all be one person in the duplicate index."""
    http, headers = network.intake, agency.manager()
    case_id, client_id = await through_intake(agency)
    fresh = await open_case(agency)
    vault_before = await network.vault_rows()
    for name in ("\U0001f600\U0001f600", "\u200b\u200d\ufeff\u2060", "12345"):
        registered = await http.post(
            f"/cases/{fresh}/registration", json={**person(), "name": name}, headers=headers
        )
        returning = await http.post(
            f"/cases/{fresh}/returning-client",
            json={"client_id": client_id, "name": name, "birth_date": "1961-05-17"},
            headers=headers,
        )
        for answer in (registered, returning):
            assert answer.status_code == 422, answer.text
            assert [e["loc"] for e in answer.json()["detail"]] == [["body", "name"]]
            assert "at least one letter" in answer.text
    assert await network.vault_rows() == vault_before
    assert await network.events_in(fresh) == ["CaseFound"]
    assert case_id != fresh


async def test_yes_no_answers_are_json_booleans_not_strings_or_numbers(
    network: Network, agency: Agency
) -> None:
    """R11: `interpreter_needed: "no"` or `1` is not an answer to record; a 422 instead."""
    http, headers = network.intake, agency.manager()
    case_id, _ = await through_intake(agency)
    fresh = await open_case(agency)
    events_before = await network.events_in(case_id)
    for bad in ("no", 1, 0, "true"):
        attempts: list[tuple[str, dict[str, Any], str]] = [
            (
                f"/cases/{fresh}/registration",
                {**person(), "confirm_new_client": bad},
                "confirm_new_client",
            ),
            (
                f"/cases/{case_id}/screening",
                {"outcome": "eligible", "presenting_problems": ["housing"], "chronic": bad},
                "chronic",
            ),
            (
                f"/cases/{case_id}/assessment",
                {"needs": [{"domain": "housing", "severity": "high"}], "interpreter_needed": bad},
                "interpreter_needed",
            ),
            (
                f"/cases/{case_id}/assessment",
                {
                    "needs": [{"domain": "housing", "severity": "high"}],
                    "interpreter_needed": False,
                    "crisis": bad,
                },
                "crisis",
            ),
        ]
        for url, body, field in attempts:
            answer = await http.post(url, json=body, headers=headers)
            assert answer.status_code == 422, f"{url} {field}={bad!r}: {answer.text}"
            assert [e["loc"][-1] for e in answer.json()["detail"]] == [field], answer.text
    assert await network.events_in(fresh) == ["CaseFound"]
    assert await network.events_in(case_id) == events_before


async def test_screening_and_assessment_lists_are_bounded_and_name_each_item_once(
    network: Network, agency: Agency
) -> None:
    """A list of thousands, or a problem named twice, is a 422; the case stays where it was."""
    http, headers = network.intake, agency.manager()
    case_id = await open_case(agency)
    registered = await http.post(f"/cases/{case_id}/registration", json=person(), headers=headers)
    assert registered.status_code == 201, registered.text
    await http.post(
        f"/cases/{case_id}/consents",
        json={
            "agencies": [agency.agency_id],
            "purposes": ["case_management"],
            "valid_until": "2099-12-31",
        },
        headers=headers,
    )
    events_before = await network.events_in(case_id)
    referral = {"kind": "information_given", "domains": ["food"]}
    refusals: list[tuple[str, dict[str, Any], str]] = [
        (
            "screening",
            {"outcome": "eligible", "presenting_problems": ["housing"] * 5000},
            "too_long",
        ),
        (
            "screening",
            {"outcome": "eligible", "presenting_problems": ["housing", "income", "housing"]},
            "once",
        ),
        (
            "screening",
            {
                "outcome": "screened_out",
                "presenting_problems": ["food"],
                "reason": "single_simple_need",
                "information_and_referral": {**referral, "domains": ["food"] * 5000},
            },
            "at most 50",
        ),
        (
            "assessment",
            {
                "needs": [{"domain": "housing", "severity": "high"}] * 5000,
                "interpreter_needed": False,
            },
            "too_long",
        ),
        (
            "assessment",
            {
                "needs": [{"domain": "housing", "severity": "high"}],
                "strengths": ["coping", "coping"],
                "interpreter_needed": False,
            },
            "once",
        ),
        (
            "assessment",
            {
                "needs": [{"domain": "housing", "severity": "high"}],
                "risks": [{"kind": "homelessness", "level": "low"}] * 5000,
                "interpreter_needed": False,
            },
            "too_long",
        ),
    ]
    for step, body, why in refusals:
        answer = await http.post(f"/cases/{case_id}/{step}", json=body, headers=headers)
        assert answer.status_code == 422, f"{step}: {answer.text}"
        assert why in answer.text, answer.text
    assert await network.events_in(case_id) == events_before


async def test_r4_a_consent_naming_an_agency_the_directory_does_not_know_is_refused(
    network: Network, agency: Agency
) -> None:
    """R4: a consent names agencies of the network, as intake learns them from the directory."""
    http, headers = network.intake, agency.manager()
    case_id = await open_case(agency)
    registered = await http.post(f"/cases/{case_id}/registration", json=person(), headers=headers)
    assert registered.status_code == 201, registered.text
    events_before = await network.events_in(case_id)
    answer = await http.post(
        f"/cases/{case_id}/consents",
        json={
            "agencies": [agency.agency_id, "ag-nowhere-in-the-network"],
            "purposes": ["case_management"],
            "valid_until": "2099-12-31",
        },
        headers=headers,
    )
    assert answer.status_code == 409, answer.text
    assert answer.json()["rule"] == "R4"
    assert "'ag-nowhere-in-the-network'" in answer.json()["detail"]
    assert agency.agency_id not in answer.json()["detail"]
    assert await network.events_in(case_id) == events_before


async def test_an_id_made_of_a_resident_or_phone_number_is_a_422_that_never_repeats_it(
    network: Network, agency: Agency
) -> None:
    """Found by the fuzzer: `no case '900101-1234567'`, and `POST /cases` answering 201 with
    the resident number it was given as the case id."""
    case_id, _ = await through_intake(agency)
    numbers = ("900101-1234567", "9001011234567", "010-1234-5678", "case-01012345678")
    for number in numbers:
        asked = [
            await network.intake.get(f"/cases/{number}", headers=agency.manager()),
            await network.intake.get(f"/clients/{number}", headers=agency.manager()),
            await network.intake.get(
                f"/agencies/{number}/caseloads", headers=agency.supervisor_auth()
            ),
            await network.intake.post(
                "/cases", json={"source": "walk_in", "case_id": number}, headers=agency.manager()
            ),
            await network.intake.get(
                f"/cases/{case_id}/consent-check",
                params={"agency_id": number, "purpose": "referral", "on": "2030-01-01"},
                headers=agency.manager(),
            ),
            await network.intake.post(
                f"/cases/{case_id}/reassignment",
                json={"to_staff_id": number, "reason": "caseload_balancing"},
                headers=agency.manager(),
            ),
        ]
        for answer in asked:
            assert answer.status_code == 422, answer.text
            assert number not in answer.text and number[-7:] not in answer.text


async def test_ids_with_digits_run_together_with_letters_are_still_taken(
    network: Network, agency: Agency
) -> None:
    """The ids intake issues are uuid hex, where thirteen digits in a row do happen."""
    for case_id in ("case-9001011234567abc", "case-f01012345678"):
        got = await network.intake.get(f"/cases/{case_id}", headers=agency.manager())
        assert got.status_code == 404, got.text  # taken as an id, and unknown: not a 422
