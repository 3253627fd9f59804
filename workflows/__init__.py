"""Temporal orchestration: a journey workflow per case, a handoff workflow per partner handoff."""
