"""Tables and figures: every layout by kind (:mod:`.layouts`); the paper's tidy rows read from the
evaluation summaries (:mod:`.results`), table shapes (:mod:`.table_shapes`, :mod:`.jaccard`) and figures
(:mod:`.figures`); the thesis's (``thesis_*``); the writers (:mod:`.tables`, :mod:`.latex`, :mod:`.html`).
The report stage (:mod:`flip_pipeline.stages.report`) runs them; which runs a paper table shows is
:mod:`flip_pipeline.plan.runs`'s.
"""
