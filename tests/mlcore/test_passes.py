"""Forward passes grouped by token length (mlcore/passes.py)."""

from mlcore.passes import length_groups


def test_passes_group_texts_of_similar_length_so_little_is_padding():
    lengths = [40, 5, 12, 38, 6, 11, 39, 13, 5]

    groups = length_groups(lengths, batch_size=2)

    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert all(len(g) <= 2 for g in groups)
    for group in groups:
        longest, shortest = max(lengths[i] for i in group), min(lengths[i] for i in group)
        assert longest <= 1.3 * shortest + 2
    assert len(length_groups([10] * 7, batch_size=64)) == 1
