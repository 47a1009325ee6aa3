"""R9: who may receive a referral, ranked, and why the others may not.

Pure: the network and the client's history come in as snapshots that the application reads
from what closure learned, and `today` comes with them. The same function answers the
options list (`GET /cases/{id}/referral-options`) and every decision that issues a referral,
so what the staff see is what the service does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from services.closure.domain.events import (
    CoveredNeed,
    Exclusion,
    PendingCause,
    Provider,
)
from shared.vocabulary import NeedDomain


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OfferedService(_Value):
    """An active service of a provider: the need domain it meets and whether it has room."""

    service_id: str = Field(min_length=1)
    need_domain: NeedDomain
    has_room: bool


class Candidate(_Value):
    """A provider of the network with its active services, and whether its agency closed."""

    provider: Provider
    agency_closed: bool = False
    services: tuple[OfferedService, ...] = ()


class NetworkSnapshot(_Value):
    """The network as closure knows it when a referral is decided."""

    candidates: tuple[Candidate, ...] = ()


class ConsentTerms(_Value):
    """A consent of the client, as it stands (R4)."""

    consent_id: str = Field(min_length=1)
    agencies: tuple[str, ...]
    for_referral: bool
    valid_from: date
    valid_until: date
    withdrawn_on: date | None = None

    def names_for_referral(self, agency_id: str, today: date) -> bool:
        """Whether this consent lets the client's case be referred to `agency_id` today."""
        withdrawn = self.withdrawn_on is not None and self.withdrawn_on <= today
        return (
            self.for_referral
            and agency_id in self.agencies
            and self.valid_from <= today <= self.valid_until
            and not withdrawn
        )


class ClientHistory(_Value):
    """Who has served the client anywhere in the network, and their consents (R9 (a), R4)."""

    served: tuple[Provider, ...] = ()
    consents: tuple[ConsentTerms, ...] = ()


class Option(_Value):
    """One provider's standing for this referral: eligible (with its rank) or excluded."""

    provider: Provider
    exclusions: tuple[Exclusion, ...] = ()
    covered: tuple[CoveredNeed, ...] = ()
    missing: tuple[NeedDomain, ...] = ()
    """The need domains it offers no active service for (`no_service_for_need`)."""
    consent_id: str | None = None
    rank: int | None = None

    @property
    def eligible(self) -> bool:
        """Whether nothing excludes this provider."""
        return not self.exclusions

    @property
    def waitlisted(self) -> bool:
        """Whether some need would only be met from a waiting list."""
        return any(not c.has_room for c in self.covered)

    @property
    def full_for(self) -> tuple[NeedDomain, ...]:
        """The need domains its services meet only from a waiting list (full)."""
        return tuple(c.need_domain for c in self.covered if not c.has_room)


def has_served(provider: Provider, served: Iterable[Provider]) -> bool:
    """Whether `provider` (or its whole agency) has served the client already.

    An agency that served without a named department counts for every department of it; a
    department that served counts for the agency as a whole too.
    """
    for earlier in served:
        if earlier.agency_id != provider.agency_id:
            continue
        if (
            earlier.department_id is None
            or provider.department_id is None
            or earlier.department_id == provider.department_id
        ):
            return True
    return False


def _coverage(
    candidate: Candidate, needs: tuple[NeedDomain, ...]
) -> tuple[tuple[CoveredNeed, ...], tuple[NeedDomain, ...]]:
    """The best service for each need (room first), and the needs it has none for."""
    covered: list[CoveredNeed] = []
    missing: list[NeedDomain] = []
    for need in needs:
        offered = sorted(
            (s for s in candidate.services if s.need_domain is need),
            key=lambda s: (not s.has_room, s.service_id),
        )
        if not offered:
            missing.append(need)
            continue
        best = offered[0]
        covered.append(
            CoveredNeed(need_domain=need, service_id=best.service_id, has_room=best.has_room)
        )
    return tuple(covered), tuple(missing)


def _consent_for(history: ClientHistory, agency_id: str, today: date) -> str | None:
    for consent in sorted(history.consents, key=lambda c: c.consent_id):
        if consent.names_for_referral(agency_id, today):
            return consent.consent_id
    return None


def _merged(network: NetworkSnapshot) -> tuple[Candidate, ...]:
    """One candidate per provider: a provider listed twice offers what both list, and is
    closed if either says so."""
    merged: dict[Provider, Candidate] = {}
    for candidate in network.candidates:
        known = merged.get(candidate.provider)
        if known is None:
            merged[candidate.provider] = candidate
            continue
        merged[candidate.provider] = Candidate(
            provider=candidate.provider,
            agency_closed=known.agency_closed or candidate.agency_closed,
            services=(*known.services, *candidate.services),
        )
    return tuple(merged.values())


def referral_options(
    *,
    needs: tuple[NeedDomain, ...],
    network: NetworkSnapshot,
    history: ClientHistory,
    today: date,
    closing_agency: str | None = None,
    tried: tuple[Provider, ...] = (),
) -> tuple[Option, ...]:
    """Every provider of the network: the eligible ones first, ranked (room before a waiting
    list), then the excluded ones with every reason that excludes them (R9)."""
    wanted = tuple(sorted(set(needs)))
    assessed: list[Option] = []
    for candidate in _merged(network):
        provider = candidate.provider
        exclusions: list[Exclusion] = []
        if closing_agency is not None and provider.agency_id == closing_agency:
            exclusions.append(Exclusion.CLOSING_AGENCY)
        if candidate.agency_closed:
            exclusions.append(Exclusion.AGENCY_CLOSED)
        if has_served(provider, history.served):
            exclusions.append(Exclusion.ALREADY_SERVED)
        if provider in tried:
            exclusions.append(Exclusion.DECLINED_OR_OVERDUE)
        covered, missing = _coverage(candidate, wanted)
        if missing:
            exclusions.append(Exclusion.NO_SERVICE_FOR_NEED)
        consent_id = _consent_for(history, provider.agency_id, today)
        if consent_id is None:
            exclusions.append(Exclusion.NO_CONSENT)
        assessed.append(
            Option(
                provider=provider,
                exclusions=tuple(exclusions),
                covered=() if missing else covered,
                missing=missing,
                consent_id=consent_id,
            )
        )
    eligible = sorted(
        (o for o in assessed if o.eligible),
        key=lambda o: (o.waitlisted, o.provider.agency_id, o.provider.department_id or ""),
    )
    excluded = sorted(
        (o for o in assessed if not o.eligible),
        key=lambda o: (o.provider.agency_id, o.provider.department_id or ""),
    )
    ranked = [o.model_copy(update={"rank": i + 1}) for i, o in enumerate(eligible)]
    return (*ranked, *excluded)


def best_option(options: tuple[Option, ...]) -> Option | None:
    """The first eligible provider, if any."""
    return next((o for o in options if o.eligible), None)


def pending_cause(options: tuple[Option, ...]) -> PendingCause:
    """Why nothing can be issued: consent is all that is missing for some provider, or no
    provider could take the client even with consent (then it is escalated, R9)."""
    if any(o.exclusions == (Exclusion.NO_CONSENT,) for o in options):
        return PendingCause.NO_CONSENT
    return PendingCause.NO_ELIGIBLE_TARGET
