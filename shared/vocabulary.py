"""Words every service uses the same way: need domains and kinds of resource."""

from __future__ import annotations

from enum import StrEnum


class NeedDomain(StrEnum):
    """A domain of need: assessed at intake, planned for, offered by agencies, referred on."""

    HOUSING = "housing"
    INCOME = "income"
    PHYSICAL_HEALTH = "physical_health"
    MENTAL_HEALTH = "mental_health"
    DAILY_LIVING_CARE = "daily_living_care"
    EMPLOYMENT = "employment"
    EDUCATION = "education"
    LEGAL = "legal"
    FOOD = "food"
    FAMILY_CHILD = "family_child"
    SOCIAL_ISOLATION = "social_isolation"


class ResourceKind(StrEnum):
    """Formal resources are agencies and programmes; informal ones are family, neighbours, peers."""

    FORMAL = "formal"
    INFORMAL = "informal"
