"""What an operator sees: progress, the end-of-run summary, the JSON run report, and the log lines.

Stages only update a ``Progress`` and return figures (``RunStats``); how they look lives here.
Nothing here imports a stage.
"""
