"""The demo's past, pure: who the demo audience is and what happened to it (no I/O, no clock)."""
