"""Representational similarity of two sets of sentence representations (thesis §3, issue 10).

Two sets ``(n, d_a)`` and ``(n, d_b)`` whose rows are the same ``n`` sentences are compared
with SVCCA and PWCCA (on their SVD reductions, :mod:`.reduce` and :mod:`.cca`) and with
linear and debiased linear CKA (on the sets themselves, :mod:`.cka`); every score comes
with its chance level, a permutation null and a bootstrap interval (:mod:`.null`), put
together per comparison by :mod:`.compare`.
"""
