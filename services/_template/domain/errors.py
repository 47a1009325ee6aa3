"""Why the template refuses a command: one root, one class per failure kind.

COPY-AND-RENAME: the root subclasses the kit's `RuleViolation`, which the runtime answers
with 409, the reason and the rule id, and writes nothing. Add one class per kind of failure
a caller can act on; the rule id (docs/domain.md, R1...R12) is given with `rule=` where each
one is raised, not fixed by the class.
"""

from __future__ import annotations

from shared.errors import RuleViolation

R1 = "R1"
"""Stage order (docs/domain.md): a step that skips another is refused, naming the next."""


class TemplateError(RuleViolation):
    """A template command the rules refuse; nothing is written."""


class OutOfOrder(TemplateError):
    """The item is not at the stage the command needs (not opened yet, or closed already)."""
