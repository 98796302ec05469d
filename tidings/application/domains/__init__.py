"""Sending domains: the DNS records (DKIM, SPF, DMARC) a domain must publish, and whether it does."""
