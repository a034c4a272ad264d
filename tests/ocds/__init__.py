"""OCDS 1.1 export of the contracting processes (a package, so its conftest and modules do not shadow the other
tiers' by name)."""
