"""Pipelines: loading (with a per-process cache) and the three that transformers 5 removed."""
