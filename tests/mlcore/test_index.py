import numpy as np
import pytest

from mlcore.index import IndexHandle, VectorIndex


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return unit(rng.normal(size=(500, 16)))


def test_search_finds_the_vector_itself_first(data):
    index = VectorIndex(16)
    index.add(np.arange(1000, 1500), data)

    hits = index.search(data[[7, 42]], k=3)

    assert [h[0].id for h in hits] == [1007, 1042]
    assert hits[0][0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0][0].score >= hits[0][1].score >= hits[0][2].score


def test_exact_search_matches_brute_force(data):
    index = VectorIndex(16)
    index.add(range(500), data)
    query = data[:5] + 0.01

    hits = index.search(query, k=10)

    expected = np.argsort(-(query @ data.T), axis=1)[:, :10]
    assert [[h.id for h in row] for row in hits] == expected.tolist()


def test_remove_and_replace(data):
    index = VectorIndex(16)
    index.add(range(500), data)

    assert index.remove([3, 4, 99999]) == 2
    index.add([5], data[10:11])  # replacing id 5 with another vector

    assert 3 not in index and len(index) == 498
    top = index.search(data[3], k=1)[0][0]
    assert top.id != 3
    assert index.search(data[10], k=2)[0][0].id in (5, 10)


def test_id_filter_restricts_results(data):
    index = VectorIndex(16)
    index.add(range(500), data)
    allowed = list(range(100, 200))

    hits = index.search(data[0], k=5, allowed_ids=allowed)[0]

    assert len(hits) == 5 and all(100 <= h.id < 200 for h in hits)
    assert index.search(data[0], k=5, allowed_ids=[])[0] == []


def test_large_collections_use_hnsw_with_high_recall():
    rng = np.random.default_rng(1)
    data = unit(rng.normal(size=(3000, 32)))
    exact = VectorIndex(32, exact_max=100_000)
    approx = VectorIndex(32, exact_max=1000)
    exact.add(range(3000), data)
    approx.add(range(3000), data)
    queries = unit(rng.normal(size=(50, 32)))

    truth = exact.search(queries, k=10)
    found = approx.search(queries, k=10)

    assert approx.kind == "hnsw" and exact.kind == "flat"
    recall = np.mean(
        [len({h.id for h in a} & {h.id for h in b}) / 10 for a, b in zip(truth, found)]
    )
    assert recall > 0.9
    filtered = approx.search(queries[:1], k=5, allowed_ids=range(0, 3000, 2))[0]
    assert len(filtered) == 5 and all(h.id % 2 == 0 for h in filtered)


def test_save_and_load_round_trip(tmp_path, data):
    index = VectorIndex(16)
    index.add(range(500), data)
    path = index.save(tmp_path / "idx.npz")

    loaded = VectorIndex.load(path)

    assert len(loaded) == 500 and loaded.version == index.version
    assert loaded.search(data[9], k=1)[0][0].id == 9
    assert not list(tmp_path.glob("*.tmp"))


def test_handle_swap_leaves_readers_on_their_index(data):
    old = VectorIndex(16)
    old.add([1], data[:1])
    handle = IndexHandle(old)
    reader_view = handle.current()
    new = VectorIndex(16)
    new.add([2], data[:1])

    handle.swap(new)

    assert reader_view.search(data[0], k=1)[0][0].id == 1
    assert handle.current().search(data[0], k=1)[0][0].id == 2


def test_dimension_mismatch_is_refused():
    index = VectorIndex(4)
    with pytest.raises(ValueError):
        index.add([1, 2], np.ones((3, 4), dtype=np.float32))


def test_with_a_gpu_the_exact_index_moves_to_it_and_searches_the_same(data, monkeypatch):
    # CI has no GPU: only the device check (`gpu_count`) and faiss' copy to the GPU are replaced.
    import faiss

    from mlcore import index as index_module

    moved = []

    def to_gpus(cpu_index):
        moved.append(cpu_index)
        return cpu_index

    monkeypatch.setattr(index_module, "gpu_count", lambda: 1)
    monkeypatch.setattr(faiss, "index_cpu_to_all_gpus", to_gpus, raising=False)
    on_gpu = VectorIndex(16)
    on_gpu.add(range(500), data)
    kept_on_cpu = VectorIndex(16, use_gpu=False)
    kept_on_cpu.add(range(500), data)

    gpu_hits = on_gpu.search(data[[3]], k=5)
    cpu_hits = kept_on_cpu.search(data[[3]], k=5)

    assert on_gpu.kind == "flat+gpu" and kept_on_cpu.kind == "flat"
    assert len(moved) == 1  # only the index that may use the GPU was copied to it
    assert [h.id for h in gpu_hits[0]] == [h.id for h in cpu_hits[0]]
