"""Bag-of-words files: a malformed file or a bag of another width is refused, naming the file."""

import numpy as np
import pytest
import scipy.sparse as sp

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.bow import BagOfWords

COUNTS = sp.csr_matrix(np.array([[1, 0, 2], [0, 0, 0], [0, 3, 0]], dtype=np.int32))


def _arrays(**changes):
    arrays = {"ids": np.array(["a", "b", "c"]), "indptr": COUNTS.indptr, "indices": COUNTS.indices,
              "data": COUNTS.data, "shape": np.array(COUNTS.shape, dtype=np.int64), "oov_types": np.zeros(3, np.int64)}
    return {**arrays, **changes}


def test_a_saved_bag_loads_back(tmp_path):
    BagOfWords(np.array(["a", "b", "c"]), COUNTS, np.zeros(3, np.int64)).save(tmp_path / "x.npz")
    back = BagOfWords.load(tmp_path / "x.npz")
    assert (back.counts != COUNTS).nnz == 0 and back.counts.shape == (3, 3)


@pytest.mark.parametrize("change, problem", [
    ({"indptr": np.array([0, 2, 3], np.int32)}, "index pointer"),  # 2 rows' worth for 3 rows
    ({"indices": np.array([0, 3, 1], np.int32)}, "column index"),  # column 3 of a 3-column bag
    ({"indices": np.array([0, -1, 1], np.int32)}, "column index"),
    ({"indptr": np.array([0, 2, 1, 3], np.int32)}, "index pointer"),  # decreasing
    ({"ids": np.array(["a", "b"])}, "2 ids for 3 rows"),
    ({"oov_types": np.zeros(4, np.int64)}, "4 oov_types for 3 rows"),
    ({"shape": np.array([3], np.int64)}, "shape"),
])
def test_arrays_that_disagree_with_the_shape_are_refused(tmp_path, change, problem):
    path = tmp_path / "bad.npz"
    np.savez(path, **_arrays(**change))
    with pytest.raises(FlipInputError, match=rf"bad\.npz: not a bag-of-words file: .*{problem}") as err:
        BagOfWords.load(path)
    assert "\n" not in str(err.value)


def test_check_width_names_the_bag_and_the_vocabulary():
    bow = BagOfWords(np.array(["a", "b", "c"]), COUNTS, np.zeros(3, np.int64))
    bow.check_width(3, "vocab/v/vocab.json", "bow/train.npz")
    with pytest.raises(FlipInputError, match=r"^bow/train\.npz: 3 columns but vocab/v/vocab\.json has 126 words$"):
        bow.check_width(126, "vocab/v/vocab.json", "bow/train.npz")


def test_scipy_opens_a_bag_and_a_bag_written_before_the_format_key_still_loads(tmp_path):
    BagOfWords(np.array(["a", "b", "c"]), COUNTS, np.zeros(3, np.int64)).save(tmp_path / "new.npz")
    counts = sp.load_npz(tmp_path / "new.npz")  # scipy's own reader, no pickle
    assert counts.format == "csr" and (counts != COUNTS).nnz == 0
    np.savez(tmp_path / "old.npz", **_arrays())  # the layout before `format` was written
    assert (BagOfWords.load(tmp_path / "old.npz").counts != COUNTS).nnz == 0
    np.savez(tmp_path / "coo.npz", **_arrays(format=np.bytes_("coo")))
    with pytest.raises(FlipInputError, match=r"coo\.npz: not a bag-of-words file: sparse format b'coo', not 'csr'"):
        BagOfWords.load(tmp_path / "coo.npz")
