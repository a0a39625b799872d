import shutil

import pytest

from assistant.prompts import PROMPTS_DIR, PromptError, load_extractive


def test_shipped_texts_load_and_have_a_hash():
    t = load_extractive()
    assert t.name == "extractive" and len(t.sha256) == 12
    assert "{label}" in t["role_part"]


def test_unknown_placeholder_stops_loading(tmp_path):
    shutil.copy(PROMPTS_DIR / "extractive.yaml", tmp_path)
    p = tmp_path / "extractive.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace('"Für Sie als {label}:"', '"Für Sie als {rolle}:"'),
                 encoding="utf-8")
    with pytest.raises(PromptError, match="unknown placeholder"):
        load_extractive(tmp_path)


def test_missing_file_and_missing_key(tmp_path):
    with pytest.raises(PromptError, match="missing"):
        load_extractive(tmp_path)
    (tmp_path / "extractive.yaml").write_text("intro: ''\n", encoding="utf-8")
    with pytest.raises(PromptError, match="role_part"):
        load_extractive(tmp_path)
