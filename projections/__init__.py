"""Read side: projection workers following the ledger's log, audit views, and the rule engine that finds problems."""
