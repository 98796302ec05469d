"""The content plan, pure: personas × funnel stages × key questions, cells, statuses, gaps, calendar."""
