"""Dead-letter triage: summary, show, export, redrive, purge (`python -m dlq`)."""
