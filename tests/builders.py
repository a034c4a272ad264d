"""Valid commands for the ledger's use cases, with real division codes and USCCs; a test overrides what it is about.

Imported as ``builders`` (``tests/`` is on ``sys.path`` because ``tests/conftest.py`` lives there). ``Ledger`` drives
one ``LedgerApplication`` the way an officer would: every default is a fact the ledger accepts, and each call that
needs a natural key (document no., project code, contract no.) gets a fresh one unless the test gives one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import AggregateNotFoundError

from ledger.actors import Actor
from ledger.application import Idempotency, LedgerApplication
from ledger.errors import LedgerError

# Divisions (NBS 2023 statistical codes, as shipped in ledger/data/divisions).
HEBEI = "130000"  # 河北省
SHIJIAZHUANG = "130100"  # 石家庄市
CHANGAN = "130102"  # 石家庄市 长安区
JIANBEI = "130102001"  # 长安区 建北街道
QINGYUAN = "130102002"  # 长安区 青园街道
LANZHOU = "620100"  # 兰州市
LANZHOU_CHENGGUAN = "620102"  # 兰州市 城关区
JIUQUANLU = "620102001"  # 城关区 酒泉路街道
LHASA = "540100"  # 拉萨市
BARKHOR = "540102002"  # 拉萨市 城关区 八廓街道

# Unified social credit codes that pass the GB 32100-2015 check (python-stdnum's own examples).
PROVIDER_USCC = "91620105MA71T4YW8Q"
OTHER_USCC = "91110000600037341L"
MISTYPED_USCC = "91110000600037342L"  # one body digit changed: the check character no longer matches

NATIONWIDE_OFFICER = Actor("ministry-officer")
HEBEI_OFFICER = Actor("hebei-officer", HEBEI)
CHANGAN_OFFICER = Actor("changan-officer", CHANGAN)
LANZHOU_OFFICER = Actor("lanzhou-chengguan-officer", LANZHOU_CHENGGUAN)
LHASA_OFFICER = Actor("lhasa-officer", LHASA)

DAY = date(2023, 3, 1)
LATER = date(2023, 6, 1)


def fund_fields(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of ``appropriate_fund`` for a Hebei provincial fund from a central document."""
    return {
        "holder_region": HEBEI,
        "fiscal_year": 2023,
        "document_no": "财社〔2023〕60号",
        "source_level": "central",
        "purpose": "乡镇（街道）社工站建设",
        "allowed_categories": ["staff", "activities", "training", "supervision"],
        "service_domains": ["social_assistance", "elderly_care", "child_welfare"],
        "valid_from": date(2023, 1, 1),
        "valid_to": date(2023, 12, 31),
        "amount": "1000000.00",
        "effective_on": date(2023, 2, 1),
        **overrides,
    }


def project_fields(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of ``register_project`` for a station in 建北街道 run by a contracted provider."""
    return {
        "code": "SJZ-CA-2023-001",
        "name": "建北街道社工站运营",
        "township_code": JIANBEI,
        "station_name": "建北街道社会工作服务站",
        "service_domains": ["elderly_care", "child_welfare"],
        "period_start": date(2023, 3, 1),
        "period_end": date(2024, 2, 29),
        "budget_lines": {"staff": "120000.00", "activities": "50000.00", "training": "10000.00"},
        "effective_on": DAY,
        "provider_name": "兰州市城关区社会工作服务中心",
        "provider_uscc": PROVIDER_USCC,
        "monthly_plan": [
            {"month": "2023-06", "cumulative_amount": "60000.00"},
            {"month": "2023-12", "cumulative_amount": "150000.00"},
        ],
        "output_targets": [{"indicator": "cases", "month": "2023-12", "cumulative_target": 30}],
        **overrides,
    }


def contract_details(**overrides: Any) -> dict[str, Any]:
    """``details`` of a ``contract_signed`` step: 180,000 yuan in two installments."""
    return {
        "contract_no": "HT-2023-001",
        "supplier_name": "兰州市城关区社会工作服务中心",
        "supplier_uscc": PROVIDER_USCC,
        "amount": "180000.00",
        "term_start": date(2023, 4, 1),
        "term_end": date(2024, 2, 29),
        "installments": [
            {"no": 1, "amount": "90000.00", "condition": "signing"},
            {"no": 2, "amount": "90000.00", "condition": "midterm_passed"},
        ],
        **overrides,
    }


def key(name: str, body: str | None = None) -> Idempotency:
    """An idempotency key; the request hash defaults to one derived from the key (same key, same request)."""
    return Idempotency(name, body if body is not None else f"hash-of-{name}")


@dataclass
class Ledger:
    """Drives one application as an officer would; returns the use cases' results (plain dicts)."""

    app: LedgerApplication
    actor: Actor = HEBEI_OFFICER
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _next(self) -> int:
        return next(self._numbers)

    def appropriate(self, amount: Any = "1000000.00", **overrides: Any) -> UUID:
        overrides.setdefault("document_no", f"财社〔2023〕{self._next()}号")
        return UUID(str(self.app.appropriate_fund(self.actor, **fund_fields(amount=amount, **overrides))["fund_id"]))

    def register_project(self, **overrides: Any) -> UUID:
        overrides.setdefault("code", f"SJZ-CA-2023-{self._next():03d}")
        return UUID(str(self.app.register_project(self.actor, **project_fields(**overrides))["project_id"]))

    def allocate_to_project(self, fund_id: UUID, project_id: UUID, amount: Any, **kwargs: Any) -> dict[str, Any]:
        return self.app.allocate_funds(self.actor, fund_id, target_kind="project", project_id=project_id,
                                       amount=amount, effective_on=kwargs.pop("effective_on", DAY), **kwargs)

    def allocate_to_fund(self, fund_id: UUID, amount: Any, child_region: str = SHIJIAZHUANG,
                         **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("document_no", f"冀财社〔2023〕{self._next()}号")
        return self.app.allocate_funds(self.actor, fund_id, target_kind="fund", child_region=child_region,
                                       amount=amount, effective_on=kwargs.pop("effective_on", DAY), **kwargs)

    def recover(self, fund_id: UUID, source_id: UUID, amount: Any, **kwargs: Any) -> dict[str, Any]:
        return self.app.recover_funds(self.actor, fund_id, source_id=source_id, amount=amount,
                                      reason=kwargs.pop("reason", "结余收回"),
                                      effective_on=kwargs.pop("effective_on", LATER), **kwargs)

    def disburse(self, project_id: UUID, fund_id: UUID, amount: Any, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("payee_name", "兰州市城关区社会工作服务中心")
        kwargs.setdefault("payee_uscc", PROVIDER_USCC)
        return self.app.disburse(self.actor, project_id, fund_id=fund_id, amount=amount,
                                 effective_on=kwargs.pop("effective_on", LATER), **kwargs)

    def spend(self, project_id: UUID, amount: Any, line: str = "staff", **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("payee_name", "兰州市城关区社会工作服务中心")
        kwargs.setdefault("payee_kind", "provider")
        return self.app.record_expenditure(self.actor, project_id, line=line, amount=amount,
                                           effective_on=kwargs.pop("effective_on", LATER), **kwargs)

    def reverse(self, project_id: UUID, entry_id: UUID, **kwargs: Any) -> dict[str, Any]:
        return self.app.reverse_entry(self.actor, project_id, entry_id=entry_id,
                                      reason=kwargs.pop("reason", "录入错误"),
                                      effective_on=kwargs.pop("effective_on", LATER), **kwargs)

    def close_project(self, project_id: UUID) -> dict[str, Any]:
        return self.app.close_project(self.actor, project_id, reason="项目结项", effective_on=date(2024, 3, 31))

    def open_procurement(self, project_id: UUID, **overrides: Any) -> UUID:
        fields = {"method": "competitive_consultation", "subject": "社工站运营服务", "category": "staff",
                  "effective_on": date(2023, 3, 5), "estimated_amount": "180000.00", **overrides}
        return UUID(str(self.app.open_procurement(self.actor, project_id, **fields)["procurement_id"]))

    def sign_contract(self, procurement_id: UUID, **overrides: Any) -> dict[str, Any]:
        effective_on = overrides.pop("effective_on", date(2023, 4, 1))
        return self.app.record_procurement_step(self.actor, procurement_id, step="contract_signed",
                                                details=contract_details(**overrides), effective_on=effective_on)

    def funded_project(self, appropriated: Any = "1000000.00", received: Any = "200000.00") -> tuple[UUID, UUID]:
        """A fund and a project that has received ``received`` from it: (fund_id, project_id)."""
        fund_id = self.appropriate(appropriated)
        project_id = self.register_project()
        self.allocate_to_project(fund_id, project_id, received)
        return fund_id, project_id


def version_of(app: LedgerApplication, aggregate_id: UUID) -> int | None:
    """The aggregate's current version, or None if nothing is recorded under that id."""
    try:
        return int(app.repository.get(aggregate_id).version)
    except AggregateNotFoundError:
        return None


def refused(app: LedgerApplication, error: type[LedgerError], code: str, call: Callable[[], object],
            *touching: UUID) -> LedgerError:
    """Runs ``call``, expects ``error`` with machine ``code``, and checks that nothing at all was written.

    Nothing written = the log's last position and the version of every aggregate in ``touching`` are unchanged.
    """
    position = app.recorder.max_notification_id()
    versions = {aggregate_id: version_of(app, aggregate_id) for aggregate_id in touching}
    with pytest.raises(error) as info:
        call()
    assert info.value.code == code
    assert app.recorder.max_notification_id() == position, "a refused command wrote to the log"
    assert {aggregate_id: version_of(app, aggregate_id) for aggregate_id in touching} == versions
    return info.value
