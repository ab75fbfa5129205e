"""What to build, from config: the runs of every experiment and which of them each paper table and figure
shows (:mod:`.runs`, ``ReportPlan``), the thesis's layer-wise analyses and named outputs (:mod:`.thesis`,
``ThesisPlan``), and one ``Target`` per table and figure built from those two sources (:mod:`.targets`,
``TargetPlan``); the workflow's rules read them, the report stage gets a Target's spec."""
