"""Events and ingest: single and batch event ingest, CSV imports, inbound SMS."""
