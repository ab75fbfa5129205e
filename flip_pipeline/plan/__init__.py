"""What to build, from config: the runs each paper table and figure shows (:mod:`.runs`, ``ReportPlan``)
and the thesis's targets and their inputs (:mod:`.thesis`, ``ThesisPlan``); the workflow's rules and
the report stages read both."""
