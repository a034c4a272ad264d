"""The audit rule engine: small pure rules with a code and a version, over read-model state.

A rule gets a project's state (and the funds it touches) and its parameters, and returns findings. Findings have
stable ids, so evaluating again after new events updates, adds or retracts findings instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, uuid5

SEVERITIES = ("S1", "S2", "S3", "S4")
FINDING_NAMESPACE = uuid5(NAMESPACE_URL, "urn:welfare-fund-ledger:finding")


@dataclass(frozen=True)
class Finding:
    rule: str
    version: int
    severity: str
    subject_kind: str
    subject_id: str
    region_code: str
    key: str
    title: str
    detail: str
    effective_on: date
    params: dict[str, Any] = field(default_factory=dict)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    project_id: str | None = None

    @property
    def finding_id(self) -> str:
        """The same rule on the same subject and key is the same finding, however often it is re-evaluated."""
        return str(uuid5(FINDING_NAMESPACE, f"{self.rule}|{self.subject_id}|{self.key}"))

    def as_record(self) -> dict[str, Any]:
        return {"finding_id": self.finding_id, "rule": self.rule, "rule_version": self.version,
                "severity": self.severity, "subject_kind": self.subject_kind, "subject_id": self.subject_id,
                "project_id": self.project_id, "region_code": self.region_code, "finding_key": self.key,
                "title": self.title, "detail": self.detail, "effective_on": self.effective_on,
                "params": self.params, "evidence": self.evidence}


@dataclass(frozen=True)
class Rule:
    code: str
    version: int
    name: str
    check: Callable[..., Iterable[Finding]]


REGISTRY: dict[str, Rule] = {}


def rule(code: str, version: int, name: str) -> Callable[[Callable[..., Iterable[Finding]]],
                                                         Callable[..., Iterable[Finding]]]:
    """Registers a rule function under its code."""

    def register(check: Callable[..., Iterable[Finding]]) -> Callable[..., Iterable[Finding]]:
        REGISTRY[code] = Rule(code, version, name, check)
        return check

    return register
