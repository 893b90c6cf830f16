"""Render LookGrid nodes without Nuke's UI, e.g. on a farm machine:

    nuke -t plugins/nuke/lookgrid_batch.py shot010.nk LookGrid1 [first last]

Opens the script, renders the node (as *Render range* does, but in this process, start to end),
and saves the script so its node shows the result when opened. The ``lookgrid`` executable of the
preferences starts a server when none answers at the node's *server*. Exits 1 with one line on any
error. (``plugins/nuke`` must be on NUKE_PATH, as for the GUI.)
"""

import sys


def main(argv) -> int:
    import nuke

    import lookgrid_nuke

    if len(argv) not in (2, 4):
        print("usage: nuke -t lookgrid_batch.py SCRIPT.nk NODE [FIRST LAST]", file=sys.stderr)
        return 2
    script, node = argv[0], argv[1]
    first, last = (int(argv[2]), int(argv[3])) if len(argv) == 4 else (None, None)
    nuke.scriptOpen(script)
    try:
        spec = lookgrid_nuke.render_node(node, first, last)
    except Exception as err:   # one line, whatever failed
        print(" ".join(str(err).split()), file=sys.stderr)
        return 1
    nuke.scriptSaveAs(script, overwrite=True)
    print(f"LookGrid: {node} rendered frames {spec.get('frames', '')}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
