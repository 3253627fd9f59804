"""The domain: aggregates, events, journey rules and policies. No I/O; nothing of ours imported."""
