"""A case closure terminated takes no further plan command (R8): every careplan command is
refused naming the rule and that the case ended, and nothing is decided. Pure domain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.careplan.domain.commands import CareplanCommand, ReturnToPlanning
from services.careplan.domain.errors import CaseEnded
from services.careplan.domain.events import AdvocacyOutcome
from services.careplan.domain.model import CarePlan, decide
from shared.vocabulary import NeedDomain
from tests.unit.careplan.fixtures import TODAY, facts, run
from tests.unit.careplan.test_implementation_rules import (
    advocate,
    answer,
    conclude,
    declined_link,
    link,
    planned,
    step,
)
from tests.unit.careplan.test_planning_rules import agree, crisis, direct, draft

ENDED = facts(terminated_on=TODAY - timedelta(days=1))


def _back() -> ReturnToPlanning:
    return ReturnToPlanning(
        case=facts(),
        today=TODAY,
        plan_version=1,
        review_id="rev-1",
        need_domains=(NeedDomain.MENTAL_HEALTH,),
    )


def _advocating() -> CarePlan:
    state, _ = run(declined_link(), advocate())
    return state


COMMANDS: dict[str, tuple[object, object]] = {
    "crisis intervention": (CarePlan, crisis),
    "draft": (CarePlan, draft),
    "agreement": (lambda: run(CarePlan(), draft())[0], agree),
    "direct service": (planned, direct),
    "return to planning": (planned, _back),
    "link": (planned, link),
    "answer": (lambda: run(planned(), link())[0], lambda: answer("accepted")),
    "advocacy": (declined_link, advocate),
    "advocacy step": (_advocating, lambda: step(1)),
    "advocacy conclusion": (
        lambda: run(_advocating(), step(1))[0],
        lambda: conclude(AdvocacyOutcome.SERVICE_OBTAINED),
    ),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_plan_command_on_a_terminated_case_is_refused_naming_the_end_r8(name: str) -> None:
    build_state, build_command = COMMANDS[name]
    state = build_state()  # type: ignore[operator]
    command: CareplanCommand = build_command()  # type: ignore[operator]
    assert decide(state, command), f"{name}: accepted while the case is open"

    with pytest.raises(CaseEnded) as refused:
        decide(state, command.model_copy(update={"case": ENDED}))

    assert refused.value.rule == "R8"
    assert "ended" in refused.value.reason
