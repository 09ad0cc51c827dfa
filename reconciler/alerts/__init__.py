"""Alerts: what one pass says (`message`) and the bounded webhook sender (`webhook`)."""
