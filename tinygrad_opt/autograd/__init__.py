"""Autograd: the switches, the graph an op records, and the backward pass over it.

The order to read the files in is docs/reading-order.md (the project's one reading order).
"""
