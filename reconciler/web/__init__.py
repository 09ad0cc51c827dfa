"""The HTTP side: health and metrics, and the accountant's status page."""
