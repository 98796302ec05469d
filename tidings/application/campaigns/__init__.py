"""Campaigns (broadcasts): ``campaigns`` (create, edit, approve, schedule, cancel, show, report),
``sending`` (the worker's pass: freeze the audience, enqueue in batches, the A/B winner)."""
