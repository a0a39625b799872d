"""Prompt and text templates live as files in prompts/; they are validated strictly at load."""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from ..roles import Role

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


class PromptError(Exception):
    pass


# key -> allowed placeholders (None: a mapping of role -> text with these placeholders)
EXTRACTIVE_SCHEMA: dict[str, tuple[set[str], bool]] = {
    "decline": (set(), False),
    "decline_topics": ({"topics"}, False),
    "short_answer": (set(), False),
    "role_part": ({"label"}, False),
    "legal_heading": (set(), False),
    "first_steps_heading": (set(), False),
    "aids_heading": (set(), False),
    "learn_heading": (set(), False),
    "not_covered": ({"terms"}, False),
    "repeated": (set(), False),
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
        texts = [x for t in texts for x in (t if isinstance(t, list) and t else [t])]  # a pool of texts
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


# --- LLM prompts: one system prompt per role, one prompt per task ----------------------------------
#
# prompts/system/<role>.md  one per Role value plus "general" (no role given); no placeholders.
# prompts/tasks/<task>.md   one per entry of TASKS below; only the declared placeholders.
# HTML comments (<!-- ... -->) document a file and are removed before the text is sent; the
# content hash covers the whole file. A literal brace in a prompt is written {{ or }}.
# A new task (quiz, briefing, ...) = a new entry in TASKS + a new file in prompts/tasks/.

GENERAL = "general"
SYSTEM_NAMES = tuple(r.value for r in Role) + (GENERAL,)


@dataclass(frozen=True)
class TaskSpec:
    placeholders: frozenset[str]          # allowed in the task file
    required: frozenset[str]              # must appear in the task file
    role_system: bool = True              # sent after the role's system prompt; False: the task text alone
    defaults: tuple[tuple[str, str], ...] = ()  # values of optional placeholders when none is given


TASKS: dict[str, TaskSpec] = {
    "answer": TaskSpec(frozenset({"question", "passages", "history"}), frozenset({"question", "passages"}),
                       defaults=(("history", "(kein bisheriger Verlauf)"),)),
    "condense": TaskSpec(frozenset({"history", "question"}), frozenset({"history", "question"}), role_system=False),
    "decline": TaskSpec(frozenset({"question", "topics"}), frozenset({"question"}), role_system=False,
                        defaults=(("topics", "(keine)"),)),
}

_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)


@dataclass(frozen=True)
class PromptFile:
    name: str          # "works_council", "answer", ...
    path: Path
    text: str          # without comments, stripped
    raw: bytes
    sha256: str        # sha256 of raw, first 12 hex digits

    @property
    def placeholders(self) -> set[str]:
        # a bare {} counts as the (never allowed) placeholder "{}"
        return {f or "{}" for _, f, _, _ in string.Formatter().parse(self.text) if f is not None}


class Rendered(NamedTuple):
    system: str
    user: str
    name: str
    sha256: str


@dataclass(frozen=True)
class PromptSet:
    system: dict[str, PromptFile]
    tasks: dict[str, PromptFile]

    def describe(self, task: str, role: Role | str | None) -> tuple[str, str]:
        """(name, sha256) of the prompt used for task and role, e.g. ("answer+works_council", "3f0c...")."""
        spec, task_file, sys_file = self._parts(task, role)
        if sys_file is None:
            return task_file.name, task_file.sha256
        digest = hashlib.sha256(sys_file.raw + b"\0" + task_file.raw).hexdigest()[:12]
        return f"{task_file.name}+{sys_file.name}", digest

    def render(self, task: str, role: Role | str | None = None, **values: str) -> Rendered:
        """(system_text, user_text, name, sha256). Values for placeholders the file does not use are
        ignored; a placeholder not declared for the task, or one the file uses but not given, raises."""
        spec, task_file, sys_file = self._parts(task, role)
        undeclared = set(values) - spec.placeholders
        if undeclared:
            raise PromptError(f"task '{task}' has no placeholder(s) {sorted(undeclared)}; "
                              f"allowed: {sorted(spec.placeholders)}")
        values = {**dict(spec.defaults), **values}
        missing = task_file.placeholders - set(values)
        if missing:
            raise PromptError(f"{task_file.path}: no value given for placeholder(s) {sorted(missing)}")
        user = task_file.text.format(**{k: str(v) for k, v in values.items()})
        system = sys_file.text.format() if sys_file is not None else ""
        name, digest = self.describe(task, role)
        return Rendered(system, user, name, digest)

    def _parts(self, task: str, role: Role | str | None) -> tuple[TaskSpec, PromptFile, PromptFile | None]:
        if task not in TASKS or task not in self.tasks:
            raise PromptError(f"unknown task '{task}'; known: {sorted(self.tasks)}")
        spec = TASKS[task]
        if not spec.role_system:
            return spec, self.tasks[task], None
        key = role.value if isinstance(role, Role) else (role or GENERAL)
        if key not in self.system:
            raise PromptError(f"no system prompt for role '{key}'; known: {sorted(self.system)}")
        return spec, self.tasks[task], self.system[key]


def _read_prompt(path: Path, name: str) -> PromptFile:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise PromptError(f"Prompt file missing: {path} ({err.strerror})") from None
    try:
        text = _COMMENT.sub("", raw.decode("utf-8")).strip()
    except UnicodeDecodeError:
        raise PromptError(f"{path}: not UTF-8 text") from None
    if not text:
        raise PromptError(f"{path}: the prompt is empty")
    try:
        _placeholders(text)
    except ValueError as err:  # a lone { or }
        raise PromptError(f"{path}: broken placeholder syntax ({err}); write a literal brace as {{{{ or }}}}") from None
    return PromptFile(name, path, text, raw, hashlib.sha256(raw).hexdigest()[:12])


def load_prompts(directory: Path = PROMPTS_DIR) -> PromptSet:
    """Loads and validates prompts/system/*.md and prompts/tasks/*.md; any problem raises PromptError
    naming the file (start-up stops)."""
    system: dict[str, PromptFile] = {}
    for name in SYSTEM_NAMES:
        f = _read_prompt(directory / "system" / f"{name}.md", name)
        if f.placeholders:
            raise PromptError(f"{f.path}: unknown placeholder(s) {sorted(f.placeholders)}; "
                              "system prompts take no placeholders")
        system[name] = f
    tasks: dict[str, PromptFile] = {}
    for name, spec in TASKS.items():
        f = _read_prompt(directory / "tasks" / f"{name}.md", name)
        unknown = f.placeholders - spec.placeholders
        if unknown:
            raise PromptError(f"{f.path}: unknown placeholder(s) {sorted(unknown)}; "
                              f"allowed: {sorted(spec.placeholders)}")
        missing = spec.required - f.placeholders
        if missing:
            raise PromptError(f"{f.path}: required placeholder(s) {sorted(missing)} missing")
        tasks[name] = f
    for sub, known in (("system", set(SYSTEM_NAMES)), ("tasks", set(TASKS))):
        extra = {p.stem for p in (directory / sub).glob("*.md")} - known
        if extra:
            raise PromptError(f"{directory / sub}: unknown prompt file(s) {sorted(p + '.md' for p in extra)}; "
                              f"known: {sorted(known)}")
    return PromptSet(system, tasks)
