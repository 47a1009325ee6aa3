"""Every referral as FHIR R4 resources: one `ServiceRequest` (the referral) and one `Task`
per target it was sent to (the loop each target closes), as FHIR's workflow pairs them.

Built from the case's closure events alone, with ids and codes only (the client is a
reference by id, never a name). Task status: issued -> requested, accepted, declined or
overdue -> rejected, completed, declined by the client -> cancelled. The JSON follows the R4
resource shapes (validated in the tests with the `fhir.resources` package).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.closure.domain.events import (
    ClosureEvent,
    Provider,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDeclinedByClient,
    ReferralIssued,
    ReferralOverdue,
    ReferralPending,
)
from services.closure.domain.state import CaseState, ReferralStatus

SYSTEM = "urn:caseline"
"""The identifier system of caseline's ids."""

SERVICE_REQUEST_STATUS = {
    ReferralStatus.PENDING: "draft",
    ReferralStatus.ISSUED: "active",
    ReferralStatus.ACCEPTED: "active",
    ReferralStatus.COMPLETED: "completed",
    ReferralStatus.DECLINED_BY_CLIENT: "revoked",
}


def _organization(provider: Provider) -> dict[str, Any]:
    reference = f"Organization/{provider.agency_id}"
    if provider.department_id is None:
        return {"reference": reference}
    return {"reference": reference, "display": f"department {provider.department_id}"}


def _task(
    referral_id: str, issued: ReferralIssued, requester: dict[str, Any], client: dict[str, Any]
) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "id": f"{referral_id}-{issued.attempt}",
        "identifier": [
            {"system": f"{SYSTEM}:referral-attempt", "value": f"{referral_id}/{issued.attempt}"}
        ],
        "basedOn": [{"reference": f"ServiceRequest/{referral_id}"}],
        "status": "requested",
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/{referral_id}"},
        "for": client,
        "authoredOn": issued.issued_on.isoformat(),
        "requester": requester,
        "owner": _organization(issued.target),
        "restriction": {"period": {"end": issued.due_on.isoformat()}},
    }


def referral_resources(
    case_id: str, state: CaseState, history: Sequence[ClosureEvent]
) -> list[dict[str, Any]]:
    """The case's referral as a `ServiceRequest` and its `Task`s (empty without a referral)."""
    referral = state.referral
    if referral is None:
        return []
    requester = {"reference": f"Organization/{state.agency_id}"}
    client = {"identifier": {"system": f"{SYSTEM}:client", "value": state.client_id or "unknown"}}
    tasks: list[dict[str, Any]] = []
    authored = referral.since.isoformat()
    for event in history:
        match event:
            case ReferralIssued() as issued:
                tasks.append(_task(referral.referral_id, issued, requester, client))
            case ReferralPending(since=since):
                authored = min(authored, since.isoformat())
            case ReferralAccepted():
                tasks[-1]["status"] = "accepted"
            case ReferralCompleted():
                tasks[-1]["status"] = "completed"
            case ReferralDeclined(reason=reason):
                tasks[-1]["status"] = "rejected"
                tasks[-1]["statusReason"] = {
                    "coding": [{"system": f"{SYSTEM}:decline", "code": reason.value}]
                }
            case ReferralOverdue():
                tasks[-1]["status"] = "rejected"
                tasks[-1]["statusReason"] = {
                    "coding": [{"system": f"{SYSTEM}:decline", "code": "overdue"}]
                }
            case ReferralDeclinedByClient():
                if tasks and tasks[-1]["status"] == "requested":
                    tasks[-1]["status"] = "cancelled"
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": referral.referral_id,
        "identifier": [{"system": f"{SYSTEM}:referral", "value": referral.referral_id}],
        "status": SERVICE_REQUEST_STATUS[referral.status],
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "3457005",
                        "display": "Patient referral",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {"system": f"{SYSTEM}:need-domain", "code": d.value} for d in referral.need_domains
            ]
        }
        if referral.need_domains
        else {"text": "continuation of case management"},
        "subject": client,
        "authoredOn": authored,
        "requester": requester,
        "supportingInfo": [{"identifier": {"system": f"{SYSTEM}:case", "value": case_id}}],
    }
    if referral.target is not None:
        request["performer"] = [_organization(referral.target)]
    return [request, *tasks]


def bundle(case_id: str, state: CaseState, history: Sequence[ClosureEvent]) -> dict[str, Any]:
    """The referral's resources as a FHIR `collection` Bundle."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in referral_resources(case_id, state, history)],
    }
