"""Campaigns (broadcasts): one-off sends to a segment. Pure: the model and its state machine
(``model.py``), when each contact's message goes (``schedule.py``), the throttle (``throttle.py``)
and the A/B subject test (``abtest.py``)."""
