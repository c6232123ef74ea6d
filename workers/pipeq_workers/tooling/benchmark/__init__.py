"""``pipeq bench``: pipeq against the direct in-process pipeline, interleaved repeat by repeat in
one run, on tiny-but-realistic random-weight models; CPU seconds per 1,000 requests and Redis
calls per request beside every figure; results as JSON + PNG with the targets table.

Layout: ``runner`` (what runs, in which order) over ``plans`` (each workload's variants),
``measure`` / ``submits`` (the loops), ``window`` (time, ``cpu``, ``commandstats`` around a
loop), ``summary`` / ``targets`` (figures), ``report`` / ``plot`` (files)."""
