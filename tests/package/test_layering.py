"""The package's import graph: ``detnas.models`` never imports ``detnas.nas``, and no module
imports itself back through others (no circle, function-level imports included)."""
import ast
import os
import os.path as osp

from helpers import ROOT

PACKAGE = osp.join(ROOT, 'detnas')


def _module_name(path: str) -> str:
    rel = osp.relpath(path, ROOT)[:-len('.py')].replace(os.sep, '.')
    return rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def _modules() -> dict:
    out = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                out[_module_name(path)] = path
    return out


def _imports(name: str, path: str, known: set) -> set:
    """Modules of the package that ``name`` imports (any scope), resolved to files."""
    is_package = path.endswith('__init__.py')
    base = name if is_package else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level:
                parts = base.split('.')
                anchor = '.'.join(parts[:len(parts) - node.level + 1])
                mod = f'{anchor}.{mod}' if mod else anchor
            targets = [f'{mod}.{a.name}' if f'{mod}.{a.name}' in known else mod
                       for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition('.')[0]
            if target and target != name and target.startswith('detnas'):
                found.add(target)
    return found


def _graph() -> dict:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_models_do_not_import_the_search():
    graph = _graph()
    bad = sorted((m, t) for m, targets in graph.items() if m.startswith('detnas.models')
                 for t in targets if t.startswith('detnas.nas'))
    assert not bad, f'detnas.models imports detnas.nas: {bad}'


def test_no_import_circle():
    """Depth-first search for a back edge (an ``__init__`` importing its submodules counts;
    a submodule's own ancestors do not: Python runs them first anyway)."""
    graph = _graph()

    def real(src, dst):
        return not src.startswith(dst + '.')

    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = 'open'
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if not real(node, nxt):
                continue
            if state.get(nxt) == 'open':
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 'done'

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, 'import circles:\n' + '\n'.join(' -> '.join(c) for c in cycles[:10])
