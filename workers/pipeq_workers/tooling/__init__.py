"""Not the runtime: the demo, the local stack, sample inputs, tiny models and benchmarks."""
