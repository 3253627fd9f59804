"""casework: case management for partial-work-ability client journeys."""
