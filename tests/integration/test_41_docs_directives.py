#!/usr/bin/env python3
"""The configuration directives cannot drift apart: tools/check-directives.py finds the same
directives, with the same synopsis, in src/io/config.c's parser table, the README's configuration
table and man/horloge.conf.5.scd. As controls, on a copy of those files it names a directive the
parser gained without documentation, one the README lost, and a synopsis changed in the man page."""
# hltest: plain-only
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import check, note, run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = ("src/io/config.c", "README.md", "man/horloge.conf.5.scd")
TOOL = os.path.join(REPO, "tools", "check-directives.py")


def check_tree(repo):
    r = subprocess.run([sys.executable, TOOL, repo], capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def edited_copy(ctx, edits):
    """A copy of the three files with (file, old, new) replacements made."""
    top = ctx.private_dir()
    for rel in FILES:
        os.makedirs(os.path.dirname(os.path.join(top, rel)), exist_ok=True)
        shutil.copy(os.path.join(REPO, rel), os.path.join(top, rel))
    for rel, old, new in edits:
        path = os.path.join(top, rel)
        with open(path) as f:
            text = f.read()
        check(old in text, "control edit: %r not in %s" % (old, rel))
        with open(path, "w") as f:
            f.write(text.replace(old, new, 1))
    return top


def test(ctx):
    rc, out = check_tree(REPO)
    check(rc == 0, "the directives disagree:\n" + out)
    note(out.strip())
    controls = [
        ([("src/io/config.c", '{"port", do_port},', '{"port", do_port},\n    {"bogus", do_port},')],
         "directive bogus: in src/io/config.c, missing from README.md configuration table and "
         "man/horloge.conf.5.scd"),
        ([("README.md", "| `minsources N` |", "| `minsourcez N` |")],
         "directive minsources: in src/io/config.c and man/horloge.conf.5.scd, missing from "
         "README.md configuration table"),
        ([("man/horloge.conf.5.scd", "*makestep* _THRESHOLD_ _LIMIT_", "*makestep* _THRESHOLD_")],
         "directive makestep: README says `makestep THRESHOLD LIMIT`, man page says "
         "`makestep THRESHOLD`"),
    ]
    for edits, want in controls:
        rc, out = check_tree(edited_copy(ctx, edits))
        check(rc == 1 and want in out, "control %r: exit %d, said:\n%s" % (edits, rc, out))
    note("controls: an undocumented directive, one missing from the README and a changed "
         "synopsis are each named")


if __name__ == "__main__":
    run("docs_directives", test)
