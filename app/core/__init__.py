"""The RNG core: engines, distributions, dtypes, checkpoints and slicing.

Nothing in this package imports FastAPI; it is usable as a plain library::

    from app.core.streams import StreamService
    svc = StreamService()
    values = svc.slice("numpy-legacy", "uniform", seed=7, offset=3, count=3)
"""
