"""The data floor: what genrekit reads before any feature is computed.

``cells`` (a table's cells and column names) <- ``tables`` (reading and cleaning labelled feature tables).
"""
