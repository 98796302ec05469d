"""The pure core: model types, rule language, journey state machine. No I/O, no clock reads."""
