"""VOID Bridge client side: protocol and client library for host plugins.

Loads inside Nuke's and Resolve's Python: pyzmq and msgpack only, never torch or numpy.
"""

__version__ = "0.1.0"
