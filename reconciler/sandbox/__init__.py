"""Emulators of the services reconciler talks to, as real HTTP servers on 127.0.0.1.

Nothing here imports from the rest of `reconciler`: a bug shared with the clients would hide.
"""
