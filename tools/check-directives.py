#!/usr/bin/env python3
"""Checks that the configuration directives agree in the three places that name them: the
directive table of src/io/config.c (what the parser accepts), the README's configuration table
and man/horloge.conf.5.scd. Each directive must appear in all three, with the same synopsis in
the README and the man page (`allow [all|ADDR[/BITS]]` once markup is removed); a directive with
several forms (`refclock SOCK ...`, `refclock SHM ...`) has the same forms in the same order. Prints one line
per disagreement naming the directive and where it is missing, and exits 1; prints a summary
and exits 0 when they agree.   usage: tools/check-directives.py [REPO_DIR]"""
import os
import re
import sys


def parser_directives(repo):
    with open(os.path.join(repo, "src/io/config.c")) as f:
        return set(re.findall(r'\{"([a-z]+)", do_[a-z_]+\}', f.read()))


def plain(synopsis):
    """A synopsis without markup: no backticks, scdoc's * and _, or the README's \\|."""
    s = synopsis.replace("\\|", "|").replace("`", "")
    s = re.sub(r"(?<![A-Za-z0-9])[*_]|[*_](?![A-Za-z0-9])", "", s)
    return " ".join(s.split())


def readme_directives(repo):
    with open(os.path.join(repo, "README.md")) as f:
        text = f.read()
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    found = {}
    for m in re.finditer(r"^\| `([a-z]+)([^`]*)` \|", section, re.M):
        found.setdefault(m.group(1), []).append(plain(m.group(1) + m.group(2)))
    return found


def man_directives(repo):
    with open(os.path.join(repo, "man/horloge.conf.5.scd")) as f:
        lines = f.read().splitlines()
    found = {}
    for i, line in enumerate(lines[:-1]):
        m = re.match(r"^\*([a-z]+)\*( .*)?$", line)
        if m and lines[i + 1].startswith("\t"):
            found.setdefault(m.group(1), []).append(plain(line))
    return found


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    accepted, readme, man = parser_directives(repo), readme_directives(repo), man_directives(repo)
    problems = []
    for d in sorted(accepted | set(readme) | set(man)):
        where = {"src/io/config.c": d in accepted, "README.md configuration table": d in readme,
                 "man/horloge.conf.5.scd": d in man}
        missing = [w for w, present in where.items() if not present]
        if missing:
            have = [w for w, present in where.items() if present]
            problems.append("directive %s: in %s, missing from %s" % (d, " and ".join(have),
                                                                     " and ".join(missing)))
        elif readme[d] != man[d]:
            problems.append("directive %s: README says `%s`, man page says `%s`"
                            % (d, "`, `".join(readme[d]), "`, `".join(man[d])))
    for p in problems:
        print(p)
    if problems:
        return 1
    print("directives: %d, the same in src/io/config.c, README.md and man/horloge.conf.5.scd"
          % len(accepted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
