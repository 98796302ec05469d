"""Journeys: the engine that advances runs, journey definitions, pause, signals, date triggers, why."""
