"""An emulator of QuickBooks Online's accounting API and OAuth, as a real HTTP server."""
