"""The stored-event write path: no event that reaches it can wedge it for everyone."""

from __future__ import annotations

import threading

from casework.domain import commands as c
from tests.store.test_event_store import STAFF, event_count, new_code, open_case

# Far beyond any limit the edge allows: what matters is that the write path itself never hangs.
HUGE = 4 * 1024 * 1024


def test_an_event_of_megabytes_is_written_and_the_next_writer_is_not_held_up(app, database):
    before = event_count(database)
    outcome: list[object] = []
    cmd = c.OpenCase(
        identity_code=new_code(), area="helsinki", team="helsinki-it", assignee="x" * HUGE
    )
    writer = threading.Thread(
        target=lambda: outcome.append(app.open_case(cmd, app.context(STAFF))), daemon=True
    )
    writer.start()
    writer.join(timeout=60)  # a liveness bound, not a speed test: the pipeline waited forever
    assert outcome, "the write of a large event never returned"
    open_case(app)
    assert event_count(database) == before + 2
    assert app.get_case(outcome[0].case_id).state.assignee == "x" * HUGE
