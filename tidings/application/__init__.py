"""The application layer: use cases (verbs) grouped by capability, one package each.

They orchestrate the pure core (`tidings.domain`) against the ports they own
(`tidings.application.ports`); the adapters (`store`, `channels`, `api`, `web`, `cli`,
`worker`) sit around them.
"""
