"""One date format per language (FORMAT_MODULE_PATH): every page's `|date` and
organizations.formatting.date (documents, e-mails, pages built in Python) read these, so a
date reads the same everywhere in a language: "1 Sep 2026", "1. sep. 2026", "01.09.2026",
"1. september 2026". Numbers keep Django's own formats for each language."""
