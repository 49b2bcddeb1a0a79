"""Small asyncio helpers shared by the spawner, the bus and the worker."""
