"""Sales, pure: who gets a task (capacity, strategy), SLA defaults and escalation (``assignment.py``)."""
