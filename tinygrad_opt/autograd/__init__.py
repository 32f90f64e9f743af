"""Autograd: read function.py (the graph), engine.py (backward), grad_mode.py,
then gradcheck.py, functional.py (Hessians) and anomaly.py."""
