"""The QuickBooks Online side: query building and fault table (pure), client, limiter, OAuth.

Import the submodules directly (`from reconciler.qbo.client import QBOClient`); this package
imports nothing so that the pure modules stay free of `requests` when imported on their own.
"""
