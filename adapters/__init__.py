"""Adapters: implementations of the engine's ports and its outside faces (email, HTTP, ...)."""
