"""Reliable delivery: pipeq's kombu transport (atomic take into a per-consumer in-flight list,
leases, poison-proof consumption) and the Celery strategy that backs it up.

    transport.py   the kombu transport Celery's workers use (``broker_transport``)
    leases.py      each consumer's lease and the sweep that restores a dead consumer's messages
    poison.py      checks a raw message before Celery sees it; refuses what it cannot run
    strategy.py    a Celery strategy that refuses (never crashes on) what Celery cannot read
"""
