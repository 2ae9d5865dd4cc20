"""Filling `{{ name }}` in checks and backups from inventory variables, including variables that name variables."""

from __future__ import annotations

from typing import Any

import pytest

from motorcade.context import MAX_NESTING, SubstitutionError, substitute

LAB = {
    "motorcade_lab_ports": {"http": {"host": 44080, "guest": 80}},
    "wordpress_site_url": "http://localhost:{{ motorcade_lab_ports.http.host }}",
}


def test_a_variable_whose_value_names_another_is_rendered_in_turn() -> None:
    """The website's URL written as a template of the lab's published port becomes that port in a check's URL."""
    assert substitute("{{ wordpress_site_url }}/book/", LAB) == "http://localhost:44080/book/"


def test_nested_values_are_rendered_inside_lists_and_dicts() -> None:
    """Every string of a check spec is rendered, however deep in the spec it sits."""
    spec = {"id": "home", "url": "{{ wordpress_site_url }}/", "argv": ["curl", "{{wordpress_site_url}}"], "n": 3}
    assert substitute(spec, LAB) == {
        "id": "home",
        "url": "http://localhost:44080/",
        "argv": ["curl", "http://localhost:44080"],
        "n": 3,
    }


def test_chains_up_to_the_nesting_limit_are_rendered() -> None:
    """A chain of MAX_NESTING variables, each naming the next, ends in the last one's value."""
    chain: dict[str, Any] = {f"v{i}": f"{{{{ v{i + 1} }}}}" for i in range(MAX_NESTING)}
    chain[f"v{MAX_NESTING}"] = "end"
    assert substitute("{{ v0 }}", chain) == "end"


def test_a_chain_deeper_than_the_limit_is_refused() -> None:
    """One more level than MAX_NESTING is an error that says so, not a silent partial render."""
    chain: dict[str, Any] = {f"v{i}": f"{{{{ v{i + 1} }}}}" for i in range(MAX_NESTING + 1)}
    chain[f"v{MAX_NESTING + 1}"] = "end"
    with pytest.raises(SubstitutionError, match=f"nested more than {MAX_NESTING} levels"):
        substitute("{{ v0 }}", chain)


def test_a_loop_is_refused_and_named() -> None:
    """Two variables naming each other raise an error showing the loop, instead of recursing forever."""
    variables = {"a": "x{{ b }}", "b": "{{ c.d }}", "c": {"d": "{{ a }}"}}
    with pytest.raises(SubstitutionError) as caught:
        substitute("{{ a }}", variables)
    assert str(caught.value) == "a (a loop: a → b → c.d → a)"


def test_a_variable_naming_itself_is_a_loop() -> None:
    """The shortest loop is caught too."""
    with pytest.raises(SubstitutionError, match=r"a loop: me → me"):
        substitute("{{ me }}", {"me": "{{ me }}"})


def test_an_undefined_name_inside_a_value_names_the_variable_that_uses_it() -> None:
    """An unknown name met while rendering a variable is reported with the chain that led to it."""
    variables = {"wordpress_site_url": "http://localhost:{{ motorcade_lab_ports.http.host }}"}
    with pytest.raises(SubstitutionError) as caught:
        substitute("{{ wordpress_site_url }}/", variables)
    assert caught.value.args[0] == "motorcade_lab_ports.http.host (undefined, in wordpress_site_url)"
    assert isinstance(caught.value, KeyError)  # what the gates catch to report "cannot fill …"


def test_a_jinja_expression_inside_a_value_is_refused_rather_than_left_half_rendered() -> None:
    """Filters and expressions are Ansible's to render; the conductor says so instead of checking a wrong URL."""
    variables = {"url": "http://{{ host }}:{{ port | default(80) }}", "host": "h"}
    with pytest.raises(SubstitutionError, match=r"url \(its value holds \{\{ port \| default\(80\) \}\}"):
        substitute("{{ url }}", variables)


def test_templates_that_are_not_names_in_the_spec_itself_are_left_alone() -> None:
    """Podman's Go templates in a check's argv are not Jinja and pass through untouched."""
    spec = ["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}", "{{ runtime }}"]
    assert substitute(spec, {"runtime": "runc"}) == ["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}", "runc"]


def test_non_string_values_are_written_as_text_and_not_rendered_further() -> None:
    """A port number or a list element is filled as its text; a value without `{{` is taken as it is."""
    variables = {"ports": [8080, 8443], "literal": "50% {not a template}"}
    assert substitute("{{ ports.1 }} {{ literal }}", variables) == "8443 50% {not a template}"
