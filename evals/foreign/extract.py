"""Rebuild evals/foreign/docs/ from a checkout of github.com/bundestag/gesetze (federal law texts as Markdown,
public domain: amtliche Werke under § 5 UrhG, the repository itself under the Unlicense).

    python evals/foreign/extract.py GIT_DIR [--commit 77abca2c...] [--out evals/foreign/docs]

GIT_DIR is the repository's git directory (a bare clone works); the excerpts are read with `git show` at the
commit the question set was written against (EXCERPTS below names the sections kept per law). The output is
deterministic, so the questions' evidence strings keep matching.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

COMMIT = "77abca2ceea3b7b89ea70afb13b5dd55415eb124"  # bundestag/gesetze, 2022-03-26
OUT = Path(__file__).resolve().parent / "docs"

# file name -> (path in the repository, sections kept: § numbers or a heading such as "Anhang")
EXCERPTS: dict[str, tuple[str, list[str]]] = {
    "01_arbschg.md": ("a/arbschg/index.md", ["1", "2", "3", "4", "5", "6", "10", "12", "15", "16", "17"]),
    "02_arbzg.md": ("a/arbzg/index.md", ["1", "2", "3", "4", "5", "6", "9", "11", "16"]),
    "03_burlg.md": ("b/burlg/index.md", ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]),
    "04_muschg.md": ("m/muschg_2018/index.md", ["3", "4", "5", "6", "7", "15", "17"]),
    "05_jarbschg.md": ("j/jarbschg/index.md", ["2", "5", "8", "9", "11", "13", "14", "15", "19"]),
    "06_entgfg.md": ("e/entgfg/index.md", ["1", "2", "3", "4", "5", "7", "8"]),
    "07_nachwg.md": ("n/nachwg/index.md", ["1", "2", "3", "4", "5"]),
    "08_kschg.md": ("k/kschg/index.md", ["1", "1a", "4", "7", "23"]),
    "09_bdsg.md": ("b/bdsg_2018/index.md", ["4", "26", "38"]),
    "10_tzbfg.md": ("t/tzbfg/index.md", ["2", "4", "8", "11", "14", "15", "16", "17"]),
    "11_milog.md": ("m/milog/index.md", ["1", "2", "3", "17", "20", "22"]),
    "12_arbstaettv.md": ("a/arbstaettv_2004/index.md", ["2", "3", "3a", "5", "6"]),
    "13_betrsichv.md": ("b/betrsichv_2015/index.md", ["3", "12", "14"]),
    "14_gewo.md": ("g/gewo/index.md", ["105", "106", "107", "108", "109", "110"]),
    "15_bbig.md": ("b/bbig_2005/index.md", ["10", "11", "13", "15", "17", "19", "20", "21", "22"]),
    "16_agg.md": ("a/agg/index.md", ["1", "2", "3", "7", "11", "12", "13", "15"]),
    "17_betrvg.md": ("b/betrvg/index.md", ["1", "9", "80", "87", "90", "111"]),
    "18_asig.md": ("a/asig/index.md", ["1", "2", "3", "5", "6", "11"]),
    "19_beeg.md": ("b/beeg/index.md", ["15", "16", "18"]),
    "20_lasthandhabv.md": ("l/lasthandhabv/index.md", ["1", "2", "3", "4", "Anhang"]),
}

_LIST_ITEM = re.compile(r"^\s*(\d+[a-z]?\.|[a-z]{1,2}\)|\*)(\s|$)")
_CONJ = ("und ", "oder ", "bis ", "sowie ", "als ", "wie ")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_PARA = re.compile(r"^§\s*(\d+[a-z]?)\b")


def _clean_heading(text: str) -> str:
    return re.sub(r"\s*\\\*\)\s*$", "", text).replace("\\*", "*").strip()


def unwrap(lines: list[str]) -> list[str]:
    """Join the source's hard-wrapped lines into one line per paragraph or list item (keeping the item's
    indentation). A line ending in a hyphen is joined without a space ("optisch-elektronischen") unless a
    conjunction follows ("Betriebs- oder")."""
    out: list[str] = []
    for ln in lines:
        if not ln.strip():
            out.append("")
            continue
        if not out or not out[-1] or _LIST_ITEM.match(ln) or out[-1].endswith((":", "1.")) and _LIST_ITEM.match(ln):
            out.append(ln.rstrip())
            continue
        nxt = ln.strip()
        if out[-1].endswith("-") and not out[-1].endswith(" -") and not nxt.startswith(_CONJ):
            out[-1] += nxt
        else:
            out[-1] += " " + nxt
    return out


def excerpt(source: str, keep: list[str]) -> str:
    """Title line plus the kept sections of one law, as Markdown with '## § n Title' headings."""
    lines = source.split("\n")
    title = next(_HEADING.match(ln).group(2) for ln in lines if ln.startswith("# "))
    out = [f"# {title} – Auszug", ""]  # provenance lives in SOURCES.md, not in an indexed passage
    wanted, found, body = set(keep), [], None
    for ln in lines:
        m = _HEADING.match(ln)
        if m:
            pm = _PARA.match(m.group(2))
            key = pm.group(1) if pm else m.group(2).strip()
            body = None
            if key in wanted:
                found.append(key)
                body = []
                out += ["", f"## {_clean_heading(m.group(2))}", ""]
            continue
        if body is not None and ln.strip() == "-----":
            body = None  # footnotes of the printed edition follow
        elif body is not None:
            out.append(ln.replace("\\*", "*").replace("\\.", ".").rstrip())
    missing = wanted - set(found)
    if missing:
        raise SystemExit(f"sections not found: {sorted(missing)}")
    text = "\n".join(unwrap(out))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("git_dir")
    ap.add_argument("--commit", default=COMMIT)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, (path, keep) in EXCERPTS.items():
        src = subprocess.run(["git", "--git-dir", args.git_dir, "show", f"{args.commit}:{path}"],
                             check=True, capture_output=True, text=True).stdout
        text = excerpt(src, keep)
        (out / name).write_text(text, encoding="utf-8")
        total += len(text.encode())
        print(f"{name}: {len(text.encode())} bytes")
    print(f"total: {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
