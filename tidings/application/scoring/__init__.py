"""Lead scoring: publishing models (``models.py``), scoring events and decay (``scores.py``)."""
