"""Development kit shared by the tests, the demo and the benchmarks: run the services as local
processes, send products, read topics, and the sample catalogue. Not shipped in the image."""
