"""Serving: the plain-Python core behind the BentoML services in bentos/ (schemas, fast paths, host, log, metrics).

Read in this order: schemas.py (what a client sends and gets) -> host.py (one method per endpoint)
-> predictors.py (each model's fast path) -> predlog.py (prediction + feedback log) -> store.py
(MLflow aliases -> BentoML model store -> bento). bentos/service.py only wires these into BentoML.
"""
