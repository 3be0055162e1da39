"""The layout's rules (docs/DESIGN.md): no module imports itself back through others. (That the
apps depend one way is import-linter's contract in pyproject.toml, run by `make lint`.)"""

import grimp

APPS = ("costledger", "usage", "collectors", "billing", "reports", "demo", "alerts")


def test_no_import_cycles():
    graph = grimp.build_graph(*APPS, cache_dir=None)
    cycles = sorted(
        {
            tuple(sorted((module, imported)))
            for module in graph.modules
            for imported in graph.find_modules_directly_imported_by(module)
            if graph.chain_exists(importer=imported, imported=module)
        }
    )
    assert cycles == []
