"""HTTP adapter: the REST API, the Segment-compatible tracking API, tracking links, the web app."""
