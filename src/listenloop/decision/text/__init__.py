"""What was said, read as text: what kind of utterance, whether its sentence goes on, who it is for, in which
language, which instruction; the cue words live in lexicons/ (data, one file per language)."""
