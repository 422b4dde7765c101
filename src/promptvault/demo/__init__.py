"""Demo data for ``promptvault demo`` and ``promptvault serve --demo``, kept out of the core.

- :mod:`promptvault.demo.prompts`: the demo prompts and their labels.
- :mod:`promptvault.demo.examples`: a few-shot collection attached to the support prompt.
- :mod:`promptvault.demo.experiments`: a finished tone experiment with generated events.

Each loader takes anything with the methods it calls (a ``Vault`` or a client), so the
package depends on no service.
"""
