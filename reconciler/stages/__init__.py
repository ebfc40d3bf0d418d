"""Getting a result for every key: load the keys, then query each one or scan the whole list.

``load_keys`` (input -> journal), ``strategy`` (which way, at what cost), ``gather`` (runs the
chosen one), ``query`` and ``scan`` (the two ways of asking the server, both writing the journal).
"""
