"""The primitive ops (one Function class each) and the functions that compose them.

Read in this order: elementwise.py, shape.py (broadcasting), reduce.py,
indexing.py, linalg.py.
"""
