"""The progress and performance specifications: every LAG and PRF rule fired and held at its boundary, judged at
the evaluation date each scenario names, and the coverage figure with its denominator, through the HTTP API on both
stores."""

import pytest
from pytest_bdd import scenarios

# Named here so that pytest parametrises every scenario over the stores (the steps ask for it only at run time).
pytestmark = pytest.mark.usefixtures("ledger")

scenarios("progress_lags.feature", "coverage.feature", "performance.feature")
