"""Access: users and sessions, API keys, login throttling."""
