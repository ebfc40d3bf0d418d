"""Reading the key rows: CSV, gzipped CSV or Parquet, in bounded batches, and the key rules.

``read`` opens and streams the file, ``read_csv`` makes CSV failures precise, ``keys`` turns a
row's key columns into the one canonical text used to de-duplicate, journal and join.
"""
