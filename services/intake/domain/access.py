"""Who may learn of a client, read their details and erase them, across agencies (R4, R11).

Pure: what the rules need (a client's cases with their agencies, the consents recorded on
them, whether the client was erased) arrives as a `ClientFootprint`, read by the
application layer.

- An agency **knows** a client when one of its cases is the client's, or when a consent of
  the client in force names it (for any purpose). A client an agency does not know is, to
  that agency, exactly an id nobody holds: a possible duplicate is not named to it, a
  returning-client link and every read answer 404 as for an unknown id.
- An agency **reads** a client's personal details when one of its cases is the client's,
  or while a consent in force names it for a purpose that hands the record over (referral,
  record transfer).
- An **erasure** acts on every case of the client. An agency's staff act on their own
  agency's cases only, so a client whose cases span agencies is erased by a network
  administrator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from services.intake.domain.errors import no_client
from services.intake.domain.events import ConsentPurpose
from services.intake.domain.model import Consent
from shared.envelope import Role
from shared.errors import Forbidden
from shared.grants import AccessDecision, ConsentGrant
from shared.grants import read_access as kit_read_access

READING_PURPOSES = frozenset({ConsentPurpose.REFERRAL, ConsentPurpose.RECORD_TRANSFER})
"""The purposes for which another agency reads a client's personal details (R11)."""

ERASERS = frozenset({Role.SUPERVISOR, Role.AGENCY_ADMIN})
"""Who erases a client known to their agency alone; network administrators erase any."""


@dataclass(frozen=True)
class ClientFootprint:
    """Where the network knows a client: their cases with each case's agency, and consents."""

    client_id: str
    cases: tuple[tuple[str, str], ...] = ()
    """(case id, agency id) of every case whose client this is."""
    consents: tuple[Consent, ...] = ()
    """The consents recorded on any of those cases, withdrawn ones included."""
    erased: bool = False

    @property
    def agencies(self) -> frozenset[str]:
        """The agencies with a case of this client."""
        return frozenset(agency for _, agency in self.cases)

    def consent_in_force_names(
        self, agency_id: str, on: date, purposes: frozenset[ConsentPurpose] | None = None
    ) -> bool:
        """Whether a consent in force on `on` names the agency (for one of `purposes`)."""
        if self.erased:
            return False  # an erased client's consents allow nothing any more
        return any(
            consent.allows(agency_id, purpose, on)
            for consent in self.consents
            for purpose in (purposes or consent.purposes)
        )


def known_to(footprint: ClientFootprint, agency_id: str, on: date) -> bool:
    """R11: whether the agency may learn that the network knows this client."""
    return agency_id in footprint.agencies or footprint.consent_in_force_names(agency_id, on)


def grant_of(consent: Consent) -> ConsentGrant:
    """A consent as the kit's vault grants read it."""
    return ConsentGrant(
        consent_id=consent.consent_id,
        agencies=consent.agencies,
        purposes=tuple(p.value for p in consent.purposes),
        valid_from=consent.valid_from,
        valid_until=consent.valid_until,
        withdrawn_on=consent.withdrawn_on,
    )


def read_access(footprint: ClientFootprint, agency_id: str, on: date) -> AccessDecision:
    """R11: whether the agency's staff may read the client's personal details, and on what
    basis (its own case, or which consent for which purpose): the vault logs it."""
    return kit_read_access(
        agency_id,
        holding_agencies=footprint.agencies,
        grants=[grant_of(c) for c in footprint.consents],
        on=on,
        erased=footprint.erased,
        purposes=sorted(p.value for p in READING_PURPOSES),
    )


def readable_by(footprint: ClientFootprint, agency_id: str, on: date) -> bool:
    """R11: whether the agency's staff may read the client's personal details."""
    return read_access(footprint, agency_id, on).allowed


@dataclass(frozen=True)
class PossibleDuplicates:
    """The clients with the same name and birth date as a registration, sorted (R11, R12)."""

    shown: tuple[str, ...]
    """Those the registering agency knows: named in its answer."""
    for_network_review: tuple[str, ...]
    """Those it does not: a network administrator's review, never the registering agency's."""


def sort_possible_duplicates(
    matches: Sequence[ClientFootprint], agency_id: str, on: date
) -> PossibleDuplicates:
    """Name to the registering agency only the possible duplicates it already knows (R11)."""
    shown = tuple(m.client_id for m in matches if known_to(m, agency_id, on))
    hidden = tuple(m.client_id for m in matches if m.client_id not in shown)
    return PossibleDuplicates(shown=shown, for_network_review=hidden)


def cases_to_erase(
    footprint: ClientFootprint, agency_id: str, role: Role, on: date
) -> tuple[str, ...]:
    """The cases an erasure by this person reaches, or why they may not erase (R11).

    `NotFound` (as for an unknown id) when their agency does not know the client; `Forbidden`
    when they know the client but the erasure is not theirs to make.
    """
    cases = tuple(case_id for case_id, _ in footprint.cases)
    if not cases:
        raise no_client(footprint.client_id)
    if role is Role.NETWORK_ADMIN:
        return cases
    if not known_to(footprint, agency_id, on):
        raise no_client(footprint.client_id)
    if role not in ERASERS:
        raise Forbidden("erasing a client takes a supervisor or an agency administrator")
    if len(footprint.agencies) > 1:
        raise Forbidden(
            "the client's cases are held by more than one agency: erasing them for the whole "
            "network is a network administrator's act"
        )
    if footprint.agencies != {agency_id}:
        raise Forbidden(
            f"agency {agency_id!r} holds no case of this client: its staff act on their own "
            "agency's cases only"
        )
    return cases
