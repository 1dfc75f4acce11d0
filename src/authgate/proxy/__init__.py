"""Reverse-proxy mechanics: header rewriting, streaming forward, WebSocket relay."""
