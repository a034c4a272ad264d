"""The earmarking (专款专用) specifications: every EAR rule fired and held at its boundary, through the HTTP API,
on both stores; and what auditors do with a finding (a reversal retracts it, decisions set its status)."""

import pytest
from pytest_bdd import scenarios

# Named here so that pytest parametrises every scenario over the stores (the steps ask for it only at run time).
pytestmark = pytest.mark.usefixtures("ledger")

scenarios("earmarking_spending.feature", "earmarking_payments.feature", "earmarking_findings.feature")
