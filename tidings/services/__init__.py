"""Application services: use cases (verbs) orchestrating the core against storage and channels."""
