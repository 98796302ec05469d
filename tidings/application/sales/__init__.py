"""Sales: tasks for people (assign, complete) raised by journeys."""
