"""What an operator watches: metrics, readiness and logs, for every process type.

``metrics`` defines the counters and histograms web and worker write; ``multiprocess`` points
every process at one folder of metric files so one scrape sees them all; ``owed`` reads the
gauges that live in the database at scrape time; ``readiness`` answers ``/readyz``;
``logs`` configures logging (text or JSON, with the ids a line concerns, nothing secret).
"""
