"""Lead scoring, pure: model documents (``model.py``) and the score arithmetic (``score.py``)."""
