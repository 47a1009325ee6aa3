"""Who reads a client's words in a vault: the agency holding a case, or one a consent names.

Pure (no I/O): a service brings what it knows of the client (the agencies holding their
cases, the consents recorded with their periods and withdrawals) and gets an
`AccessDecision` whose basis the vault writes to its access log (R4, R11).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date

CASE_AGENCY = "case_agency"
"""Basis: the reader's agency holds a case of the client."""
CONSENT = "consent"
"""Basis: a consent in force names the reader's agency for the purpose (its id is logged)."""
NO_GRANT = "no_grant"
"""A refusal: neither a case nor a consent in force for a reading purpose."""
ERASED = "erased"
"""A refusal by consent: an erased client's consents allow nothing any more."""

READING_PURPOSES = ("referral", "record_transfer")
"""The purposes for which another agency reads a client's details (R11), in this order."""


@dataclass(frozen=True)
class Accessor:
    """Who reads: a staff member of an agency in a role (ids and codes, as in a token)."""

    staff_id: str
    role: str
    agency_id: str


@dataclass(frozen=True)
class AccessDecision:
    """Whether a read is allowed, and on what basis (a code; a consent's id and purpose)."""

    allowed: bool
    basis: str
    consent_id: str | None = None
    purpose: str | None = None

    @classmethod
    def allow(
        cls, basis: str, *, consent_id: str | None = None, purpose: str | None = None
    ) -> AccessDecision:
        """An allowed read on `basis`."""
        return cls(True, basis, consent_id, purpose)

    @classmethod
    def refuse(cls, basis: str = NO_GRANT) -> AccessDecision:
        """A refused read: nothing is opened, the refusal is logged."""
        return cls(False, basis)


@dataclass(frozen=True)
class ConsentGrant:
    """One consent of a client as a grant: which agencies, for what, from when to when."""

    consent_id: str
    agencies: tuple[str, ...]
    purposes: tuple[str, ...]
    valid_from: date
    valid_until: date
    withdrawn_on: date | None = None

    def names(self, agency_id: str, purpose: str, on: date) -> bool:
        """Whether the consent, in force on `on`, names `agency_id` for `purpose`."""
        if self.withdrawn_on is not None and on >= self.withdrawn_on:
            return False
        return (
            agency_id in self.agencies
            and purpose in self.purposes
            and self.valid_from <= on <= self.valid_until
        )


def read_access(
    agency_id: str,
    *,
    holding_agencies: Collection[str],
    grants: Iterable[ConsentGrant],
    on: date,
    erased: bool = False,
    purposes: Iterable[str] = READING_PURPOSES,
) -> AccessDecision:
    """R11: the reader's agency holds a case of the client, or a consent in force names it
    for a reading purpose (the first such consent, by id, is the basis); else refused."""
    if agency_id in holding_agencies:
        return AccessDecision.allow(CASE_AGENCY)
    wanted = tuple(purposes)
    for grant in sorted(grants, key=lambda g: g.consent_id):
        for purpose in wanted:
            if grant.names(agency_id, purpose, on):
                if erased:
                    return AccessDecision.refuse(ERASED)
                return AccessDecision.allow(CONSENT, consent_id=grant.consent_id, purpose=purpose)
    return AccessDecision.refuse()
