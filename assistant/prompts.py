"""Prompt and text templates live as files in prompts/; they are validated strictly at load."""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .roles import Role

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


class PromptError(Exception):
    pass


# key -> allowed placeholders (None: a mapping of role -> text with these placeholders)
EXTRACTIVE_SCHEMA: dict[str, tuple[set[str], bool]] = {
    "intro": ({"question"}, False),
    "role_part": ({"label"}, False),
    "role_label_dative": (set(), True),
    "role_tips": (set(), True),
    "decline": (set(), False),
    "decline_topics": ({"topics"}, False),
    "followup_related": ({"title"}, False),
    "followup_measures": ({"title"}, False),
    "followup_role": ({"title"}, True),
}


@dataclass(frozen=True)
class TextSet:
    name: str
    sha256: str
    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def load_extractive(directory: Path = PROMPTS_DIR) -> TextSet:
    path = directory / "extractive.yaml"
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise PromptError(f"Prompt file missing: {path} ({err.strerror})") from None
    data = yaml.safe_load(raw) or {}
    for key, (allowed, per_role) in EXTRACTIVE_SCHEMA.items():
        if key not in data:
            raise PromptError(f"{path}: key '{key}' is missing")
        values = data[key]
        if per_role:
            if not isinstance(values, dict) or set(values) != {r.value for r in Role}:
                raise PromptError(f"{path}: '{key}' needs exactly one text per role {[r.value for r in Role]}")
            texts = list(values.values())
        else:
            texts = [values]
        for t in texts:
            if not isinstance(t, str):
                raise PromptError(f"{path}: '{key}' must be text")
            unknown = _placeholders(t) - allowed
            if unknown:
                raise PromptError(f"{path}: '{key}' uses unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    extra = set(data) - set(EXTRACTIVE_SCHEMA)
    if extra:
        raise PromptError(f"{path}: unknown key(s) {sorted(extra)}")
    return TextSet("extractive", hashlib.sha256(raw).hexdigest()[:12], data)
