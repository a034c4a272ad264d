"""Tamper evidence: the hash chain, seals and `ledger verify` (a package, so its conftest and modules do not shadow
the other tiers' by name)."""
