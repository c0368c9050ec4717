"""Time per topic: the running-topic tracker and the arithmetic of topic totals."""
