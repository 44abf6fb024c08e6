"""The engine as a service: what happens to a job between the socket and the published result.

``server`` (the socket loop) takes requests; ``admission`` checks a job before it is queued;
``journal`` stores every job and event (SQLite) before anyone is told; ``worker`` takes queued jobs
one at a time and ``runner`` runs one (masks -> read -> model -> write -> publish), with
``mask_stage`` building its quadmask. ``uploads`` holds by-value inputs; ``security`` checks paths
against the roots and sets up CURVE. See docs/architecture.md.
"""
