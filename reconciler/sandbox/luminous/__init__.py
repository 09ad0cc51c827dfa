"""An emulator of Luminous's API, as a real HTTP server."""
