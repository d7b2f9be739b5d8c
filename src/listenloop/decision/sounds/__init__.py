"""The decision about sounds: the user's sound policy (policy_file.py reads and checks the TOML, sound_policy.py
applies it per chunk; the shipped default, default_policy.toml over class_name_policy.toml, and learned_policy.toml)
and the tasks about sounds (sound_tasks.py: counting with counting.py, watching, questions about the music with
music.py)."""
