"""The primitive ops (one Function class each) and the functions that compose them.

The order to read them in is docs/reading-order.md (the project's one reading order).
"""
