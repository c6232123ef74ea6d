"""``pipeq bench``: pipeq (unbatched and batched) against the direct in-process pipeline, side
by side in one run, on tiny-but-realistic random-weight models. Results: JSON + PNG."""
