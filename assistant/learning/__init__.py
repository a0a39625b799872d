"""Learning along role paths: paths and units (catalog), scored quizzes with spaced review (quiz),
the learner's progress and the team view (service), and the KI-Kompetenz record as PDF (record)."""
