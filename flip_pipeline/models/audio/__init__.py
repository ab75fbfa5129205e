"""The audio front end every speech model shares: decoding, resampling and filterbanks
(:mod:`.features`), worker processes that prepare clips ahead of the model (:mod:`.frontend`), and
what an unusable clip does (:mod:`.bad_audio`)."""
