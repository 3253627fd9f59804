"""Read models: views that follow the event store's notification log, each event applied once."""
