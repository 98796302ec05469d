"""Forms, pure: the form document and its validation, a submission's check, double opt-in states."""
