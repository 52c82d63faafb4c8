"""Publisher: checks finished renders (QA gates, consent today), publishes their signed derivatives
to the published bucket and the asset feed, withdraws them when a look retires, consent ends or a
twin is erased, and serves the feed (HTTP, gRPC, Merchant Center), review, ledger and report."""
