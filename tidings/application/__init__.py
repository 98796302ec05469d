"""The application layer: use cases grouped by capability, and the ports they own."""
