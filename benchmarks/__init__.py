"""`make bench`: the harness (run.py), its in-process steps (steps.py) and the bare view."""
