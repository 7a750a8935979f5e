#!/usr/bin/env python3
"""The `metrics` endpoint in a real browser: horloged (-x, `threads 0`) follows a fake upstream
5 ms ahead, with `metrics 127.0.0.1:PORT every 1`. /metrics and `horloge metrics` pass
`promtool check metrics`; headless Chromium loads the status page, its DOM (--dump-dom) has the
status fields, the source and three SVG plots with lines, and its screenshot (--screenshot, kept
in BUILD/test-output/) has the plots' blue in it. No JavaScript is involved: the plots are drawn
by the daemon."""
# hltest: plain-only
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import urllib.request
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import FakeNtp, Server, Skip, check, free_port, note, run, wait_until

UP = "127.0.0.42"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def promtool_ok(text, what):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 0, "promtool check metrics on %s: exit %d\n%s%s"
          % (what, r.returncode, r.stdout, r.stderr))


def check_metrics(ctx, srv, url):
    with urllib.request.urlopen(url + "metrics", timeout=10 * ctx.slow) as resp:
        ctype = resp.headers.get("Content-Type", "")
        http_text = resp.read().decode()
    check(ctype.startswith("text/plain; version=0.0.4"), "/metrics content type %r" % ctype)
    cli = subprocess.run([ctx.horloge, "-s", srv.sock, "metrics"], capture_output=True, text=True,
                         timeout=30 * ctx.slow)
    check(cli.returncode == 0, "horloge metrics: exit %d %s" % (cli.returncode, cli.stderr))
    for text, what in ((http_text, "/metrics"), (cli.stdout, "horloge metrics")):
        promtool_ok(text, what)
        for name in ("horloge_build_info", "horloge_server_requests_total", "horloge_stratum",
                     "horloge_tracking_frequency_ppm", "horloge_leap_status",
                     'horloge_source_offset_seconds{source="%s:' % UP, "horloge_source_reach",
                     "horloge_source_delay_seconds", "horloge_source_jitter_seconds",
                     'horloge_source_state{source="%s:' % UP):
            check(name in text, "%s lacks %s:\n%s" % (what, name, text[:3000]))
    note("/metrics and horloge metrics pass promtool check metrics (%d and %d lines)"
         % (len(http_text.splitlines()), len(cli.stdout.splitlines())))


def chromium(ctx, profile, *args):
    cmd = ["chromium"] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60 * ctx.slow)


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    with open(path, "rb") as f:
        data = f.read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path)
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack("!I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack("!IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, color = hdr[0], hdr[1], hdr[2], hdr[3]
    check(depth == 8 and color in (2, 6) and hdr[6] == 0, "unexpected PNG format %r" % (hdr,))
    bpp = 3 if color == 2 else 4
    raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, rows, bpp


def count_plot_pixels(path):
    """Pixels of the plots' blue, or of it blended with white by anti-aliasing (a 2-px line
    between pixel rows has no pixel of the pure colour): clearly more blue than red and green."""
    w, h, rows, bpp = png_pixels(path)
    n = 0
    for line in rows:
        for x in range(0, w * bpp, bpp):
            r, g, b = line[x], line[x + 1], line[x + 2]
            if b > r + 60 and b > g + 30:
                n += 1
    return w, h, n


def check_page_in_browser(ctx, url):
    if not shutil.which("chromium"):
        raise Skip("no chromium (Debian package chromium; tools/deps.sh installs it)")
    dom = chromium(ctx, ctx.path("profile-dom"), "--dump-dom", url)
    check(dom.returncode == 0 and "</html>" in dom.stdout, "chromium --dump-dom: exit %d\n%s"
          % (dom.returncode, dom.stderr[-2000:]))
    html = dom.stdout
    for plot in ("plot-offset", "plot-frequency", "plot-rootdisp"):
        m = re.search(r'<svg[^>]*id="%s".*?</svg>' % plot, html, re.S)
        check(m is not None, "the DOM has no %s plot:\n%s" % (plot, html[:3000]))
        check('class="series"' in m.group(0), "plot %s has no line: %s" % (plot, m.group(0)[:800]))
    for field in ("Stratum", "Root dispersion", "Reference ID", "Frequency", UP):
        check(field in html, "the status page lacks %r" % field)
    note("the DOM has the status fields, the source %s and 3 SVG plots with lines" % UP)
    outdir = os.path.join(ctx.build, "test-output", ctx.name)
    os.makedirs(outdir, exist_ok=True)
    shot = os.path.join(outdir, "status-page.png")
    if os.path.exists(shot):
        os.unlink(shot)
    r = chromium(ctx, ctx.path("profile-shot"), "--hide-scrollbars", "--window-size=412,1500",
                 "--screenshot=" + shot, url)
    check(r.returncode == 0 and os.path.exists(shot), "chromium --screenshot: exit %d\n%s"
          % (r.returncode, r.stderr[-2000:]))
    w, h, blue = count_plot_pixels(shot)
    # Three 2-px lines across plots ~350 px wide: some 2000 pixels of their blue.
    check(blue > 1000, "the screenshot shows no plot lines (%d plot-blue pixels)" % blue)
    note("screenshot %s: %dx%d (a phone's width), %d pixels of plot line" % (shot, w, h, blue))


def test(ctx):
    ctx.need_horloged("the metrics endpoint")
    if not shutil.which("promtool"):
        raise Skip("no promtool (Debian package prometheus; tools/deps.sh installs it)")
    up_port = free_port([UP])
    FakeNtp(ctx, UP, up_port, "up", "--shift", "0.005")
    ntp_port, web_port = free_port(), free_port()
    while web_port == ntp_port:
        web_port = free_port()
    srv = Server(ctx, ["server %s port %d iburst minpoll -2 maxpoll -2" % (UP, up_port), "threads 0",
                       "metrics 127.0.0.1:%d every 1" % web_port], name="watched", port=ntp_port).start()
    url = "http://127.0.0.1:%d/" % web_port
    wait_until(ctx, 20, lambda: 'state="selected"} 1' in
               urllib.request.urlopen(url + "metrics", timeout=5).read().decode(), "source selected")
    time.sleep(3)  # a few more points in the plots
    check_metrics(ctx, srv, url)
    check_page_in_browser(ctx, url)
    check(srv.alive(), "horloged died")


if __name__ == "__main__":
    run("test_42_status_page", test)
