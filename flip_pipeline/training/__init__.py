"""Training LiP and FLiP: the loop (:mod:`.loop`), batches streamed from shards (:mod:`.batches`)
and embedded views read by corpus row when an encoder skipped rows (:mod:`.alignment`)."""
