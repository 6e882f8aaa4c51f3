"""`nox -s pipeline`: the gate graph run by nox in parallel, then one run record."""
