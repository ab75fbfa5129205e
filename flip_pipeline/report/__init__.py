"""Reports of evaluations: which runs a table or figure shows (:mod:`.selection`), the tidy
rows read from their summaries (:mod:`.results`), the paper's table layouts
(:mod:`.layouts`, :mod:`.jaccard`), their writers (:mod:`.tables`, :mod:`.latex`) and the
figures (:mod:`.figures`). The report stage (:mod:`flip_pipeline.stages.report`) runs them.
"""
