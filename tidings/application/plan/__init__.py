"""The content plan: the plan document, cells, the gap report, the calendar, stale templates."""
