"""Translations between HTTP dialects (OpenAI, TGI, Hugging Face Inference, pipeq jobs) and pipeq
requests and results. Pure functions: no I/O, no task logic."""
