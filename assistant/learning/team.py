"""Team aggregates with a minimum group size: never one person's results, no figure for groups
smaller than MIN_GROUP (a tool showing individual performance falls under § 87 Abs. 1 Nr. 6 BetrVG)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..roles import Role
from .catalog import Catalog

MIN_GROUP = 5


@dataclass(frozen=True)
class MemberProgress:
    """What the aggregate needs of one member; never leaves this module on its own."""
    role: str
    completed: frozenset[str]
    opened: frozenset[str]


def summarize(catalog: Catalog, members: list[MemberProgress], min_group: int = MIN_GROUP) -> dict[str, Any]:
    """Counts per path and completion rate per unit; a group below ``min_group`` gets None for every figure."""
    def shown(n: int, group: int) -> int | None:
        return n if group >= min_group else None

    total = len(members)
    paths = []
    for role in Role:
        path = catalog.path(role)
        group = [m for m in members if m.role == role.value]
        n = len(group)
        ids = [s.unit_id for s in path.steps]
        started = sum(1 for m in group if m.opened & set(ids) or m.completed & set(ids))
        done = sum(1 for m in group if set(ids) <= m.completed)
        units = [{"unit_id": uid, "titel": catalog.units[uid].titel,
                  "completion_rate": (round(100 * sum(uid in m.completed for m in group) / n)
                                      if n >= min_group else None)} for uid in ids]
        paths.append({"role": role.value, "role_label": role.label, "titel": path.titel,
                      "members": shown(n, n), "started": shown(started, n), "completed": shown(done, n),
                      "units": units})
    return {"members": shown(total, total), "min_group": min_group, "paths": paths}
