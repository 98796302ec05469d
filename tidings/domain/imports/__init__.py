"""Pure rules of importing contacts from other tools' export files (vendor presets)."""
