"""The pieces of ``scripts/bench``: throwaway databases, baselines, the HTTP load runs and the ledger's figures."""
