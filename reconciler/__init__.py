"""reconciler: keeps QuickBooks Online purchase orders in step with Luminous."""

__version__ = "0.1.0"
