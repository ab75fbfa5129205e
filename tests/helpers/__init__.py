"""Test helpers: offline stand-ins (SONAR, SeamlessM4T, Gemini, hub caches), data writers and a SLURM cluster.

Imported as ``helpers.<module>``; ``tests/`` is on ``sys.path`` through pytest's ``pythonpath`` setting.
"""
