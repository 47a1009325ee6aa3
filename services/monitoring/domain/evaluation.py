"""Stage 6 rules (R7): baselines on standard instruments, and the evaluation of outcomes,
which is its own record and never derived from reviews."""

from __future__ import annotations

from services.monitoring.domain.commands import RecordBaseline, RecordEvaluation
from services.monitoring.domain.errors import (
    R1,
    R7,
    BaselineMissing,
    DateOutOfRange,
    DuplicateRecord,
    IncompleteAnswers,
    NoReviewYet,
    RevisionPending,
    UnknownInstrument,
)
from services.monitoring.domain.events import (
    BaselineRecorded,
    EvaluationRecorded,
    GoalRating,
    InstrumentResult,
    MonitoringEvent,
)
from services.monitoring.domain.followup import plan_in_force
from services.monitoring.domain.instruments import NETWORK_MEASURES, REGISTRY, Instrument
from services.monitoring.domain.state import MonitoringState


def _instrument(code: str, score: int) -> Instrument:
    instrument = REGISTRY.get(code)
    if instrument is None:
        raise UnknownInstrument(
            "the instrument is not one of the registry's standardised instruments", rule=R7
        )
    if not instrument.accepts(score):
        raise UnknownInstrument(
            f"{instrument.code} scores from {instrument.minimum} to {instrument.maximum}",
            rule=R7,
        )
    return instrument


def record_baseline(state: MonitoringState, command: RecordBaseline) -> list[MonitoringEvent]:
    """A baseline is scored once per instrument, at or after the plan's activation (R7)."""
    plan = plan_in_force(state, "a baseline score")
    instrument = _instrument(command.instrument, command.score)
    activated_on = state.first_activated_on or plan.activated_on
    if not activated_on <= command.scored_on <= command.today:
        raise DateOutOfRange(
            "a baseline is scored at or after the plan's activation, and not in the future",
            rule=R7,
        )
    if instrument.code in state.baselines:
        raise DuplicateRecord(f"{instrument.code} already has its baseline", rule=R7)
    return [
        BaselineRecorded(
            plan_version=plan.version,
            instrument=instrument.code,
            score=command.score,
            scored_on=command.scored_on,
        )
    ]


def record_evaluation(state: MonitoringState, command: RecordEvaluation) -> list[MonitoringEvent]:
    """R7: the version in force reviewed at least once and no revision pending (R1); every
    goal rated; each instrument against its baseline, the two network measures among them."""
    plan = plan_in_force(state, "an evaluation")
    if command.evaluation_id in state.evaluations:
        raise DuplicateRecord(f"evaluation {command.evaluation_id} is already recorded", rule=R7)
    if state.revision_pending_for is not None:
        raise RevisionPending(
            "the case went back to planning: draft the revised plan in careplan and record "
            "the client's agreement before evaluating",
            rule=R1,
        )
    if not plan.reviews:
        raise NoReviewYet(
            f"version {plan.version} has not been reviewed: record a review before evaluating",
            rule=R7,
        )
    rated = [g.goal_id for g in command.goals]
    expected = set(plan.goal_ids)
    if set(rated) != expected or len(rated) != len(set(rated)):
        raise IncompleteAnswers(
            "every goal of the version in force is rated once, and no other",
            rule=R7,
            field="goals",
        )
    missing_network = [code for code in NETWORK_MEASURES if code not in command.scores]
    if missing_network:
        raise IncompleteAnswers(
            "both network-capacity measures (the client's social network and the service "
            "providers) are scored",
            rule=R7,
            field="scores",
        )
    results = []
    for code, score in sorted(command.scores.items()):
        instrument = _instrument(code, score)
        baseline = state.baselines.get(instrument.code)
        if baseline is None:
            raise BaselineMissing(
                f"{instrument.code} has no baseline: record it (at or after the plan's "
                "activation) before evaluating with it",
                rule=R7,
            )
        results.append(
            InstrumentResult(
                instrument=instrument.code,
                baseline=baseline.score,
                score=score,
                change=instrument.change(baseline.score, score),
            )
        )
    all_achieved = all(g.rating is GoalRating.ACHIEVED for g in command.goals)
    return [
        EvaluationRecorded(
            evaluation_id=command.evaluation_id,
            plan_version=plan.version,
            evaluated_on=command.today,
            goals=command.goals,
            instruments=tuple(results),
            no_further_service_needed=command.no_further_service_needed,
            permits_planned_termination=all_achieved or command.no_further_service_needed,
        )
    ]
