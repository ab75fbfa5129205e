"""Control encoders that bound a probe's accuracy: the bag-of-words projection (ceiling) and
Gaussian noise (floor) (:mod:`.ceiling_floor`), and the filterbank projection for speech
(:mod:`.fbank_projection`)."""
