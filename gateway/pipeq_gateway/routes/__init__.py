"""Starlette endpoints, one module per dialect; each reads the body, translates, and calls the queue."""
