"""Routers, one per resource; each route parses, makes one call into the domain and shapes the answer."""
