"""Evaluations: versioned datasets of cases, runs of a prompt version against a real model,
evaluators, paired comparison of two runs, and eval gates on labels.

The service (:mod:`promptvault.evals.service`) is reached as ``vault.evals``; the pure parts
(:mod:`.stats`, :mod:`.evaluators`, :mod:`.dataset_io`) import nothing of the database.
"""

from __future__ import annotations
