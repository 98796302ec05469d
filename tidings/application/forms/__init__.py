"""Forms: definitions, public submissions with consent proof, double opt-in confirmations."""
