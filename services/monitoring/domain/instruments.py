"""The standardised instruments an evaluation may use (R7), fixed in code.

Each has a score range and a direction (whether a higher score is better), so the degree of
change is positive for an improvement whichever way its scale runs. Two of them measure the
network's capacity to support the client, as R7 asks: the client's own social network and
the personal-service providers around them. Their scales are caseline's own checklists.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Instrument:
    """A standardised instrument: code, name, score range and direction."""

    code: str
    name: str
    minimum: int
    maximum: int
    higher_is_better: bool

    def accepts(self, score: int) -> bool:
        """Whether a score lies in the instrument's range."""
        return self.minimum <= score <= self.maximum

    def change(self, baseline: int, score: int) -> int:
        """The degree of change from the baseline: positive when the client is better off."""
        return score - baseline if self.higher_is_better else baseline - score


SOCIAL_NETWORK = "network_social"
"""The client's social network: family, neighbours, friends able and willing to help."""

SERVICE_PROVIDERS = "network_providers"
"""The personal-service providers: their coordination and capacity to support the client."""

NETWORK_MEASURES = (SOCIAL_NETWORK, SERVICE_PROVIDERS)
"""The two network-capacity measures every evaluation scores against their baselines (R7)."""

_ALL = (
    Instrument(SOCIAL_NETWORK, "Social network support capacity checklist", 0, 40, True),
    Instrument(SERVICE_PROVIDERS, "Service providers' support capacity checklist", 0, 40, True),
    Instrument("phq9", "Patient Health Questionnaire-9 (depression)", 0, 27, False),
    Instrument("gad7", "Generalised Anxiety Disorder-7", 0, 21, False),
    Instrument("who5", "WHO-5 Well-Being Index (raw)", 0, 25, True),
    Instrument("k10", "Kessler Psychological Distress Scale", 10, 50, False),
    Instrument("lsns6", "Lubben Social Network Scale-6", 0, 30, True),
)

REGISTRY: MappingProxyType[str, Instrument] = MappingProxyType({i.code: i for i in _ALL})
"""Every instrument by code."""
