"""Generation: ``model.generate()`` with pipeq's sampling semantics, stop strings, raw
logprobs, token streaming, cancel and deadlines. Used by every generative task."""
