"""The HTTP API of reserve operations (FastAPI): role-checked, with an OpenAPI description."""
