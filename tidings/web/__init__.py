"""The web app (Jinja2 pages over the same use cases as the API), mounted by ``tidings.server``."""
