"""Tamper evidence: every stored event is hash-chained as it is written, and the chain head is sealed (signed).

``chain`` is the canonical encoding and the hash; ``recorders`` (with ``sqlite``, ``postgres``, ``popo``) writes the
chain in the same transaction as the events; ``seals`` is what a seal says and how it is made; ``verify`` re-walks the
log and names what no longer matches. Signing keys are kept outside the database, at the edge (``api/sealing.py``).
"""
