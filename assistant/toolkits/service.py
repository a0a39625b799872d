"""The toolkits' service: course, rules and norm register loaded once; briefing and check built from them.

Built lazily by the web router and the CLI (``Toolkits.load()``); nothing happens at import time.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..normen import REGISTER_NAME, NormRegister
from .briefing import BriefingInput, compose_briefing
from .check import CheckInput, compose_check
from .course import Course, CourseError
from .document import Document
from .rules import RULES_PATH, RuleSet


class Toolkits:
    def __init__(self, course: Course, rules: RuleSet, register: NormRegister) -> None:
        self.course = course
        self.rules = rules
        self.register = register

    @classmethod
    def load(cls, corpus: Path | str | None = None, rules: Path | str = RULES_PATH) -> Toolkits:
        course = Course.load(corpus)
        path = (course.path or Path()) / REGISTER_NAME
        if not path.is_file():
            raise CourseError(f"Das Normenregister fehlt: {path}")
        return cls(course, RuleSet.load(rules), NormRegister.load(path))

    def briefing(self, inp: BriefingInput) -> Document:
        return compose_briefing(self.course, self.rules, self.register, inp)

    def check(self, inp: CheckInput) -> Document:
        return compose_check(self.course, self.rules, self.register, inp)


_lock = threading.Lock()


def shared(holder: object, corpus: Path | str | None = None) -> Toolkits:
    """One Toolkits per holder (the FastAPI app's state), built on first use."""
    with _lock:
        tk = getattr(holder, "toolkits", None)
        if tk is None:
            tk = Toolkits.load(corpus)
            setattr(holder, "toolkits", tk)
        return tk
