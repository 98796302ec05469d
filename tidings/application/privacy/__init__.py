"""Privacy: a contact's personal data as a zip (GDPR Art. 15/20) and retention policies."""
