"""Ansible callback plugins that `motorcade.ansible` adds to its runs (a package so it ships with motorcade)."""
