"""The aiohttp server layer: the only place that reads aiohttp requests."""
