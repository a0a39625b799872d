"""The four roles an answer is tailored to. Identifiers are English, labels German."""

from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    owner = "owner"
    employee = "employee"
    works_council = "works_council"
    consultant = "consultant"

    @property
    def label(self) -> str:
        return LABELS[self]

    @property
    def section(self) -> str:
        """The '### ...' heading under 'Was das für Sie heißt' written for this role."""
        return SECTIONS[self]


LABELS = {
    Role.owner: "Geschäftsführung",
    Role.employee: "Beschäftigte",
    Role.works_council: "Betriebsrat",
    Role.consultant: "Beratung",
}
SECTIONS = LABELS
ROLE_SECTION_PARENT = "Was das für Sie heißt"


def parse_role(value: str | None) -> Role | None:
    """None for no role; ValueError with a German message for an unknown one."""
    if value is None or value == "":
        return None
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(f"{r.value} ({r.label})" for r in Role)
        raise ValueError(f"Unbekannte Rolle „{value}“. Erlaubt sind: {allowed}.") from None
