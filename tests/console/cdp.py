# SPDX-License-Identifier: MIT
"""A small Chrome DevTools Protocol driver: headless Chromium, one page, and what a test of the
console needs (navigate, wait for a condition, click, type, read text, screenshot). Every wait is
for a state in the page, under one generous deadline that only turns a hang into a failure."""

import base64
import json
import os
import subprocess
import tempfile
import time
import urllib.request

import websocket

DEADLINE = float(os.environ.get("WAIT_SECONDS", "300"))

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-dev-shm-usage", "--window-size=1400,1000"]


class Failure(Exception):
    pass


class Browser:
    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.profile = tempfile.mkdtemp(prefix="smsprov-chromium.")
        self.stderr = open(os.path.join(log_dir, "chromium.log"), "w")
        self.proc = subprocess.Popen(["chromium", *CHROMIUM_FLAGS, "--user-data-dir=" + self.profile,
                                      "--remote-debugging-port=0", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        # Chromium writes the port it chose to DevToolsActivePort in the profile.
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        self._until("chromium's DevTools port", lambda: os.path.exists(port_file) and open(port_file).read().count("\n") >= 1)
        port = open(port_file).read().split("\n")[0]
        targets = json.load(urllib.request.urlopen("http://127.0.0.1:%s/json" % port))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=DEADLINE, suppress_origin=True)
        self.next_id = 0
        self.console = []
        self.send("Runtime.enable")
        self.send("Page.enable")

    def _until(self, what, cond):
        end = time.monotonic() + DEADLINE
        while not cond():
            if time.monotonic() > end:
                raise Failure("timed out after %ds waiting for %s" % (DEADLINE, what))
            time.sleep(0.05)

    def send(self, method, **params):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == ident:
                if "error" in msg:
                    raise Failure("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if msg.get("method") == "Runtime.consoleAPICalled":
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in msg["params"]["args"]))
            elif msg.get("method") == "Runtime.exceptionThrown":
                self.console.append("exception: " + json.dumps(msg["params"]["exceptionDetails"])[:2000])

    def js(self, expr):
        """Evaluates expr in the console's frame (or the top document before it exists)."""
        wrapped = "(() => { const f = document.querySelector('iframe[name=\"cockpit1:localhost/smsprovd\"]');" \
                  " const document_ = f && f.contentDocument ? f.contentDocument : document;" \
                  " const window_ = f && f.contentWindow ? f.contentWindow : window;" \
                  " return ((document, window) => (%s))(document_, window_); })()" % expr
        r = self.send("Runtime.evaluate", expression=wrapped, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise Failure("script failed: %s: %s" % (expr, r["exceptionDetails"].get("exception", {}).get("description")))
        return r["result"].get("value")

    def top_js(self, expr):
        r = self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        return r["result"].get("value")

    def navigate(self, url):
        self.send("Page.navigate", url=url)

    def wait_js(self, what, expr):
        """Waits until expr is truthy in the page; returns its value."""
        end = time.monotonic() + DEADLINE
        while True:
            try:
                v = self.js(expr)
            except Failure:
                v = None
            if v:
                return v
            if time.monotonic() > end:
                raise Failure("timed out after %ds waiting for %s (%s)" % (DEADLINE, what, expr))
            time.sleep(0.05)

    def wait(self, selector, what=None):
        return self.wait_js(what or selector, "!!document.querySelector(%s)" % json.dumps(selector))

    def wait_text(self, selector, text, what=None):
        return self.wait_js(what or ("%r in %s" % (text, selector)),
                            "Array.from(document.querySelectorAll(%s)).some(e => e.textContent.includes(%s))"
                            % (json.dumps(selector), json.dumps(text)))

    def text(self, selector):
        return self.js("(document.querySelector(%s) || {}).textContent" % json.dumps(selector))

    def click(self, selector):
        self.wait(selector)
        self.wait_js("%s enabled" % selector, "!document.querySelector(%s).disabled" % json.dumps(selector))
        self.js("document.querySelector(%s).click()" % json.dumps(selector))

    def click_text(self, selector, text):
        self.wait_text(selector, text)
        self.js("Array.from(document.querySelectorAll(%s)).find(e => e.textContent.includes(%s)).click()"
                % (json.dumps(selector), json.dumps(text)))

    def type(self, selector, value):
        """Sets an input's value the way React notices (its native setter, then an input event)."""
        self.wait(selector)
        self.js("(() => { const e = document.querySelector(%s);"
                " const set = Object.getOwnPropertyDescriptor(window.HTMLInputElement.prototype, 'value').set;"
                " set.call(e, %s); e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()"
                % (json.dumps(selector), json.dumps(value)))

    def select(self, selector, value):
        self.wait(selector)
        self.js("(() => { const e = document.querySelector(%s);"
                " const set = Object.getOwnPropertyDescriptor(window.HTMLSelectElement.prototype, 'value').set;"
                " set.call(e, %s); e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()"
                % (json.dumps(selector), json.dumps(str(value))))

    def screenshot(self, name, scale=None):
        params = {"format": "png"}
        if scale:
            m = self.send("Page.getLayoutMetrics")["cssVisualViewport"]
            params["clip"] = {"x": 0, "y": 0, "width": m["clientWidth"], "height": m["clientHeight"], "scale": scale}
        data = self.send("Page.captureScreenshot", **params)["data"]
        path = os.path.join(self.log_dir, name + ".png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["rm", "-rf", self.profile])
        self.stderr.close()
