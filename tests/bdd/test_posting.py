"""The posting specifications, run through the HTTP API on both stores."""

import pytest
from pytest_bdd import scenarios

# Named here so that pytest parametrises every scenario over the stores (the steps ask for it only at run time).
pytestmark = pytest.mark.usefixtures("ledger")

scenarios("posting_workflow.feature", "posting_refusals.feature")
