"""The embedded demo: a synthetic shot with ground truth (``samples``) run end to end (``run``).

``make demo`` runs :mod:`void_engine.demo.run` through a real local engine with the CPU preview
backend, so a newcomer sees the whole path work without weights or a GPU.
"""
