"""A small Markdown -> reStructuredText converter for ``bench/README.md``.

The performance page of the docs is generated from the benchmarks' README at every build, so the
tables stay in one place (next to the benches that produce them). It handles the subset that
README uses: ATX headings, fenced code, pipe tables, links, inline code, lists. Inline code that is
exactly a public name (``sampled_bias``, ``ReLULayer.inverse``) becomes a cross-reference.
"""
import re, sys, pathlib
UNDER = {1: "=", 2: "-", 3: "~", 4: "^"}
def inline(s, links):
    # links [text](url)
    def link(m):
        text, url = m.group(1), m.group(2)
        if url.endswith(".md") and not url.startswith("http"):
            target = links.get(url, url[:-3])
            return f":doc:`{strip_code(text)} <{target}>`"
        return f"`{strip_code(text)} <{url}>`__"
    s = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", link, s)
    # inline code `x` -> ``x`` (not already double, not :doc: roles)
    out = []; i = 0
    parts = re.split(r"(:doc:`[^`]*`|`[^`]* <[^`]*>`__)", s)
    for k, p in enumerate(parts):
        if k % 2 == 1:
            out.append(p); continue
        segs = re.split(r"(`[^`]+`)", p)
        for j in range(0, len(segs), 2):  # outside code: |x| is not a substitution
            segs[j] = re.sub(r"\|([^|\s][^|]*?)\|", r"``|\1|``", segs[j])
        p = "".join(segs)
        p = re.sub(r"(?<!`)`([^`]+)`(?!`)", code, p)
        out.append(p)
    return "".join(out)
import reluinj
PUBLIC = set(reluinj.__all__) - {"frames", "inr", "cnn", "__version__", "hull", "testing"}
def code(m):
    c = m.group(1)
    mm = re.fullmatch(r"(?:reluinj\.)?([A-Za-z_]\w*)((?:\.\w+)?)", c)
    if mm and mm.group(1) in PUBLIC:
        return f"`~reluinj.{mm.group(1)}{mm.group(2)}`"
    mm = re.fullmatch(r"reluinj\.(hull|testing)\.(\w+)", c)
    if mm:
        return f"`{c}`"
    return f"``{c}``"
def strip_code(t):
    return t.replace("`", "")
def table(rows, links):
    cells = [[inline(c.strip(), links) for c in r.strip().strip("|").split("|")] for r in rows]
    header, body = cells[0], cells[2:]
    o = [".. list-table::", "   :header-rows: 1", ""]
    for r in [header] + body:
        o.append("   * - " + r[0])
        for c in r[1:]:
            o.append("     - " + c)
    o.append("")
    return o
def convert(text, links, shift=0):
    lines = text.split("\n"); out = []; i = 0
    while i < len(lines):
        ln = lines[i]
        m = re.match(r"^(#+) (.*)", ln)
        if ln.startswith("```"):
            lang = ln[3:].strip() or "text"
            if lang == "bash": lang = "console" if False else "bash"
            out += [f".. code-block:: {lang}", ""]
            i += 1
            while not lines[i].startswith("```"):
                out.append("   " + lines[i] if lines[i] else ""); i += 1
            out.append(""); i += 1; continue
        if m:
            t = inline(m.group(2), links)
            lvl = min(len(m.group(1)) + shift, 4)
            out += [t, UNDER[lvl] * max(len(t), 3)]
            i += 1; continue
        if ln.startswith("|") and i + 1 < len(lines) and re.match(r"^\|[-| :]+\|$", lines[i+1]):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i]); i += 1
            if out and out[-1] != "": out.append("")
            out += table(rows, links); continue
        out.append(inline(ln, links)); i += 1
    return "\n".join(out)
def convert_file(src, dst, *, from_first_section=True, links=None):
    """Convert *src* (Markdown) to *dst* (reST).

    With *from_first_section*, the text before the first ``##`` heading is dropped and ``##``
    headings become third-level sections (the including page has the title and a section).
    """
    text = pathlib.Path(src).read_text(encoding="utf-8")
    shift = 0
    if from_first_section:
        k = text.find("\n## ")
        text = text[k + 1:] if k >= 0 else text
        shift = 1
    rst = convert(text, links or {}, shift=shift)
    dst = pathlib.Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists() or dst.read_text(encoding="utf-8") != rst:
        dst.write_text(rst, encoding="utf-8")


if __name__ == "__main__":
    src, dst = sys.argv[1], sys.argv[2]
    links = dict(a.split("=") for a in sys.argv[3:])
    pathlib.Path(dst).write_text(convert(pathlib.Path(src).read_text(), links))
