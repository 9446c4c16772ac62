"""Evidence in, verdict out: the rules (rules.py) find what is wrong, the advice (advice.py)
says it. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import advice
from .errors import Diagnosis, ExitCode
from .evidence import Evidence
from .rules import CounterResult, Finding, Rule, checks, counters, decide, remarks
from .text import with_profile


@dataclass
class Check:
    name: str
    status: str  # passed, failed, skipped
    detail: str = ""


@dataclass
class Verdict:
    """A diagnosis with its story: summary, fix steps, the evidence lines and every check."""

    code: Diagnosis
    summary: str
    fix: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    counters: list[CounterResult] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return self.code.exit_code

    @property
    def ok(self) -> bool:
        return self.code is Diagnosis.OK


def diagnose(ev: Evidence, rules: list[Rule] | None = None) -> Verdict:
    """Ask each rule in turn; the first finding decides, and advice.py says it."""
    return carrying_profile(verdict_of(decide(ev, rules), ev), ev)


def verdict_of(finding: Finding, ev: Evidence) -> Verdict:
    """A finding in words, with the checks, warnings and counters the evidence shows as far as it went."""
    summary, fix = advice.words(finding, ev)
    return Verdict(
        finding.code,
        summary,
        fix,
        evidence=advice.evidence_lines(ev, finding),
        warnings=[advice.remark(key, ev) for key in remarks(ev, finding)],
        checks=[Check(c.name, c.status, advice.check_detail(c, ev)) for c in checks(ev, finding)],
        counters=counters(ev, finding),
    )


def carrying_profile(verdict: Verdict, ev: Evidence) -> Verdict:
    """Every command the verdict names acts on the profile it is about (`--profile NAME` where
    metrika would otherwise pick another), so following the fix mends the profile that failed."""
    return carried(verdict, ev.profile, ev.implicit_profile)


def carried(verdict: Verdict, name: str, implicit: str) -> Verdict:
    """carrying_profile for a verdict made without evidence (refresh's outcomes): profile `name`,
    `implicit` the one metrika picks without --profile."""

    def carry(text: str) -> str:
        return with_profile(text, name, implicit)

    verdict.summary = carry(verdict.summary)
    verdict.fix = [carry(step) for step in verdict.fix]
    verdict.warnings = [carry(line) for line in verdict.warnings]
    return verdict
