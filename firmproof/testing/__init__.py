"""Images and file systems built with the real tools, for the tests, the demo and benchmarks."""
