"""Flags: the questions asked of every unit (questions), what a flag says (wording, playbook), and
the stage that reads published cells and stores flags (stage). Only the stage touches Django."""
