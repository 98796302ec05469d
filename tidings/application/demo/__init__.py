"""The demo: a shop's audience with 90 days of history (``seed``)."""
