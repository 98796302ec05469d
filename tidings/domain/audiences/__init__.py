"""Ad audiences, pure: identifiers normalised and hashed as Meta and Google specify (docs/audiences.md)."""
