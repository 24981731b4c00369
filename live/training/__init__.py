"""Training side (torch): networks, training loop, export. Never imported by `live run`."""
