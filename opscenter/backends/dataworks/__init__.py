"""DataWorks OpenAPI backend: request signing and the HTTP client it calls through."""
