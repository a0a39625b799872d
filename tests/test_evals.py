"""The evals as tests: the golden sets are well-formed and point at real content, the fact matcher and claim
parser behave as documented, the citation judge holds its validated accuracy, and the real pipeline on the
real corpus stays above the committed floor (evals/results/baseline.json) for R@5 and refusal recall."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from assistant.german import content_words, stem
from evals import citations, golden
from evals.metrics import fact_found, normalise, summarise
from ingestion.normalize import normalize_text

FLOOR_MARGIN = 0.03
CORPUS = golden.corpus_set()
SEEDS = golden.seed_set()


# --- the golden sets ---------------------------------------------------------------------------------

def test_corpus_set_size_roles_and_ids():
    qs, un = CORPUS["questions"], CORPUS["unanswerable"]
    assert len(qs) >= 120 and len(un) >= 25
    per_role = Counter(q["role"] for q in qs)
    assert set(per_role) == set(golden.ROLES) and min(per_role.values()) >= 30, per_role
    ids = [q["id"] for q in qs + un]
    assert len(ids) == len(set(ids))
    for q in qs:
        assert q["question"].strip() and q["gold"] and 1 <= len(q["facts"]) <= 3, q["id"]
    for q in un:
        assert q["role"] in golden.ROLES and q["kind"] in {"tax", "other_law", "chit_chat", "off_topic",
                                                          "prompt_injection"}, q["id"]
    kinds = Counter(q["kind"] for q in un)
    assert all(kinds[k] >= 3 for k in ("tax", "other_law", "chit_chat", "prompt_injection")), kinds


def test_corpus_set_is_worded_like_real_users():
    styles = Counter(s for q in CORPUS["questions"] for s in golden.styles(q))
    assert styles["typo"] >= 8 and styles["du"] >= 8 and styles["short"] >= 4 and styles["situational"] >= 12, styles
    for role in golden.ROLES:
        mine = [golden.styles(q) for q in CORPUS["questions"] if q["role"] == role]
        assert any("situational" in s for s in mine) and any("typo" in s for s in mine), role


def test_every_gold_id_exists_in_the_corpus():
    units = golden.corpus_units()
    missing = {(q["id"], g) for q in CORPUS["questions"] for g in q["gold"] if g not in units}
    assert not missing


def test_every_key_fact_stands_in_a_gold_unit():
    units = golden.corpus_units()
    bad = [(q["id"], f) for q in CORPUS["questions"] for f in q["facts"]
           if not fact_found(f, " ".join(units[g] for g in q["gold"]))]
    assert not bad


def test_seed_set_has_gold_passages_and_a_third_paraphrased():
    texts = {p.name: " ".join(normalize_text(p.read_text(encoding="utf-8")).split())
             for p in golden.SEEDS.glob("*.txt")}
    assert len(SEEDS) >= 60
    for q in SEEDS:
        assert any(" ".join(e.split()) in texts[q["source"]] for e in q["evidence"]), q["id"]
    para = [q for q in SEEDS if q.get("paraphrase")]
    assert len(para) >= len(SEEDS) / 3
    from assistant.answers.answering import GENERIC_TERMS
    for q in para:  # "paraphrase" means: no content word shared with the evidence
        shared = ({stem(w) for w in content_words(q["question"])} - GENERIC_TERMS) & \
                 {stem(w) for e in q["evidence"] for w in content_words(e)}
        assert not shared, (q["id"], shared)


# --- the rules ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fact, answer, found", [
    ("§ 87 Abs. 1 Nr. 6", "nach §87 Abs. 1 Nr. 6 BetrVG", True),
    ("Nr. 6", "§ 87 Abs. 1 Nr. 60", False),
    ("Art. 5", "Art. 50", False),
    ("Rot", "Brot und Brötchen", False),
    ("Pilotprojekt", "zwei Pilotprojekte starten", True),
    ("psychische Belastung", "Belastungen, auch psychische", True),
    ("1.000 bis 3.000 Euro", "rund 1000 bis 3000 Euro", True),
    ("„Ziele statt Minuten“", "**Ziele statt Minuten**", True),
    ("Art. 22", "Art 2", False),
])
def test_fact_matching_rule(fact, answer, found):
    assert fact_found(fact, answer) is found


def test_normalisation():
    assert normalise("Mit\u2011Bestimmung „§87“  **Abs.**\u00ad 1") == "mit-bestimmung § 87 abs. 1"


def test_claim_parser_reads_citations_lead_ins_and_bullets():
    text = ("Erster Satz steht da. [1] Zweiter Teil folgt hier. Noch einer. [2][3]\n\n"
            "Für Sie als Betriebsrat: Ein Satz für die Rolle. [4]\n\n**Rechtsgrundlage:**\n- § 90 BetrVG [2]\n"
            "- Art. 35 DSGVO [1, 3]\n\n**Fragen an den Arbeitgeber:**\n- Welche Daten fließen?\n\n"
            "**Nächste Schritte:** Fordern Sie die Unterlagen rechtzeitig an.")
    p = citations.parse_answer(text)
    assert [(c.sentence, c.cited) for c in p.claims] == [
        ("Erster Satz steht da.", [1]), ("Zweiter Teil folgt hier.", [2, 3]), ("Noch einer.", [2, 3]),
        ("Ein Satz für die Rolle.", [4]), ("§ 90 BetrVG", [2]), ("Art. 35 DSGVO", [1, 3])]
    assert p.uncited == ["Fordern Sie die Unterlagen rechtzeitig an."]


def test_citation_judge_keeps_its_validated_accuracy():
    from assistant.search.embeddings import USEEmbedder  # the judge was validated with USE, whatever the app uses

    embedder = USEEmbedder(threads=2)
    labels = golden.load_yaml("citation_labels.yaml")["pairs"]
    kinds = Counter(p["kind"] for p in labels)
    assert kinds["real"] >= 50 and kinds["mismatch_same_answer"] + kinds["mismatch_other_answer"] >= 30
    assert all(p["label"] in ("supported", "unsupported") and p["note"] for p in labels)
    res = citations.validate(embedder.embed)
    assert res["at_threshold"]["accuracy"] >= 0.92, res["errors"]
    assert res["by_kind"]["real"]["judge_correct"] == res["by_kind"]["real"]["n"]


# --- the regression floor on the real pipeline ---------------------------------------------------------

def test_r5_and_refusal_recall_stay_above_the_committed_floor(corpus_service, corpus_data_dir, embedder):
    from evals.run import FLOOR, ask, build_service, corpus_retrieval, declined

    floor = json.loads(FLOOR.read_text(encoding="utf-8"))["corpus"]
    rows = corpus_retrieval(corpus_service, CORPUS["questions"])
    r5 = summarise([r["rel"] for r in rows])["R@5"]
    # refusals are measured with the extractive answerer the floor was recorded with
    svc = corpus_service if getattr(corpus_service, "llm", None) is None else build_service(corpus_data_dir, embedder)
    refused = [declined(ask(svc, q["question"], q["role"])) for q in CORPUS["unanswerable"]]
    recall = sum(refused) / len(refused)
    missed = [r["id"] for r in rows if not any(r["rel"][:5])]
    assert r5 >= floor["R@5"] - FLOOR_MARGIN, f"R@5 {r5:.3f} < floor {floor['R@5']:.3f} - 0.03; misses: {missed}"
    answered = [q["id"] for q, d in zip(CORPUS["unanswerable"], refused) if not d]
    assert recall >= floor["refusal_recall"] - FLOOR_MARGIN, (
        f"refusal recall {recall:.3f} < floor {floor['refusal_recall']:.3f} - 0.03; answered: {answered}")
