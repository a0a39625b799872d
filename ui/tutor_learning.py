"""The tutor's "Lernpfad" tab: the learning page (/lernen, ui/learning/) embedded in the tutor.

One implementation of the learning flow (path, unit reading view with the unit's authored
questions, quiz, Wiederholen, progress, record download, data export and deletion) serves the
tutor, the widget's "Jetzt lernen" link and direct visitors; it talks to /api/learning only."""

from __future__ import annotations

import gradio as gr

LEARN_URL = "/lernen/"
DATA_SHEET_URL = "/was-wird-gespeichert"

TAB_HTML = f"""<div class="lb-learning-tab">
<p>Lernen Sie entlang des Lernpfads Ihrer Rolle: Einheiten lesen, Quiz, Wiederholen und Ihr Nachweis als PDF.
<a href="{LEARN_URL}" target="_blank" rel="noopener">In eigenem Fenster öffnen</a> ·
<a href="{DATA_SHEET_URL}" target="_blank" rel="noopener">Was wird gespeichert?</a></p>
<iframe src="{LEARN_URL}" title="Lernpfad" style="width:100%;height:80vh;min-height:560px;border:1px solid #d5dce4;border-radius:8px" loading="lazy"></iframe>
</div>"""


def learning_tab() -> None:
    """Add the "Lernpfad" tab; call inside the tutor's gr.Tabs()."""
    with gr.Tab("Lernpfad", id="lernpfad"):
        gr.HTML(TAB_HTML, elem_id="tutor-lernpfad", js_on_load=None)
