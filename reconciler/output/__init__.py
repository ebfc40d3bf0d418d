"""Writing the table: each input batch joined with the journalled results, published when whole.

``join`` (the output's columns and rows), ``writer`` (atomic CSV/Parquet files), ``tally`` (counts
taken from the rows as written), ``write`` (the second pass over the input that ties them together).
"""
