"""Measurement core: what each engagement event counts for, rates over the right denominators,
attribution models. Pure: no I/O, no clock."""
