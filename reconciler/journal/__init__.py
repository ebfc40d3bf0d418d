"""The run's memory on disk: one SQLite file that holds what must be remembered across millions of keys.

``store`` (the ``Journal``: distinct keys, their results, the run's binding), ``listed`` (a scan's
copy of the calling list), ``rows`` (how a record becomes columns in both), ``lock`` (one run per journal).
"""
