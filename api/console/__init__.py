"""The auditor console (审计控制台): server-rendered pages in Simplified Chinese over the same queries as the API.

Sign in with a token (kept in a signed session cookie); the overview of open findings; drill-down from province
to township with roll-ups and coverage; a project's ledger, findings and progress chart; a finding's evidence and
decisions; CSV and Excel exports. Officers see only their scope and may not decide findings.
"""

from api.console.views import blp

__all__ = ["blp"]
