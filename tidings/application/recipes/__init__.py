"""Recipes: ready-made journeys with their templates, and the checks of what they need."""
