"""The edge's HTTP surface: thin aiohttp handlers over the domain services."""
