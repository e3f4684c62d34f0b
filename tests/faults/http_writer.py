"""A node's writes over its JSON API, through its real web server, which the drill can kill -9.

Why it exists: a writer process (tests/faults/worker.py) calls the services directly; this one
speaks to `siaga112 serve` over HTTP with a bearer token, as the call-takers' browsers and the
bridge do, so the drill can also kill the web server in the middle of a request. It answers
the drill's requests in the worker's format ({"ok": true, ...} / {"ok": false, "outcome": ...}),
and None when the server did not answer (connection refused or reset, timeout): unknown outcome.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request

from sync.localnet import LocalRegency, free_port

TIMEOUT = 30.0


class HttpWriter:
    """Drop-in for procs.Worker on one node: the node's web server, and requests to its API."""

    def __init__(self, net: LocalRegency, node_id: str, token: str) -> None:
        self.net, self.node_id, self.token = net, node_id, token
        self.base = ""

    # --- the server --------------------------------------------------------------------------

    def start(self) -> None:
        self.base = self.net.start_web(self.node_id, free_port()) + "api/v1"

    def alive(self) -> bool:
        proc = self.net[self.node_id].web_proc
        return proc is not None and proc.poll() is None

    def kill(self) -> None:
        node = self.net[self.node_id]
        if self.alive():
            node.web_proc.kill()
            node.web_proc.wait(10)
        node.web_proc, node.web_port = None, None

    def stop(self) -> None:
        self.net.stop_web(self.node_id)

    def send(self, request: dict) -> threading.Thread:
        """Start `request` without waiting for its answer (the drill kills the server meanwhile)."""
        thread = threading.Thread(target=self.request, args=(request,), daemon=True)
        thread.start()
        return thread

    # --- the API -----------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                payload = json.loads(exc.read() or b"{}")
            except ValueError:
                payload = {}
            return exc.code, payload

    def request(self, request: dict) -> dict | None:
        try:
            return self._do(request)
        except (OSError, ValueError, http.client.HTTPException):  # refused, reset, timed out, half an answer
            return None

    def _do(self, req: dict) -> dict:
        op = req["op"]
        if op == "ping":
            status, _ = self._call("GET", "/me")
            return self._answer(status, {})
        if op == "create":
            status, call = self._call("POST", "/calls", {"caller_number": req.get("caller", "081277001122")})
            if status >= 300:
                return self._answer(status, call)
            status, created = self._call("POST", "/incidents", {
                "incident_type": req.get("incident_type", 3), "desa": req.get("desa", "Senggoro"),
                "kecamatan": req["kecamatan"], "address": req["address"], "situation": "Latihan gangguan",
                "call_id": call["id"]})
            if status >= 300:
                return self._answer(status, created)
            out = {"incident": created["incident"]["id"], "call": call["id"], "dispatches": {}}
            if req.get("agencies"):
                status, dispatches = self._call("POST", f"/incidents/{out['incident']}/dispatches",
                                                {"agencies": req["agencies"]})
                if status >= 300:  # the case is stored, its dispatch is not: not the promise asked for
                    return {"ok": False, "outcome": "failed",
                            "error": f"dispatch after create: {self._answer(status, dispatches)['error']}"}
                out["dispatches"] = {d["agency"]["code"]: d["id"] for d in dispatches}
            return {"ok": True, **out}
        if op == "dispatch":
            status, dispatches = self._call("POST", f"/incidents/{req['incident']}/dispatches",
                                            {"agencies": req["agencies"]})
            if status >= 300:
                return self._answer(status, dispatches)
            return {"ok": True, "dispatches": {d["agency"]["code"]: d["id"] for d in dispatches}}
        if op == "close":
            status, body = self._call("POST", f"/incidents/{req['incident']}/close",
                                      {"final_report": "Selesai (latihan)"})
            return self._answer(status, body, {"status": body.get("status")})
        if op == "edit":
            status, body = self._call("GET", f"/incidents/{req['incident']}")
            if status >= 300:
                return self._answer(status, body)
            before = body["incident"]["address"]
            status, body = self._call("PATCH", f"/incidents/{req['incident']}", {"address": req["address"]})
            return self._answer(status, body, {"before": before})
        if op == "address":
            status, body = self._call("GET", f"/incidents/{req['incident']}")
            found = status < 300
            return {"ok": True, "address": body["incident"]["address"] if found else None,
                    "status": body["incident"]["status"] if found else None}
        raise ValueError(f"operation {op} is not offered over HTTP here")

    @staticmethod
    def _answer(status: int, body: dict, ok: dict | None = None) -> dict:
        if status < 300:
            return {"ok": True, **(ok or {})}
        outcome = "refused" if status in (400, 403, 404, 409, 422) else "failed"
        return {"ok": False, "outcome": outcome, "error": f"HTTP {status}: {body.get('error')}: {body.get('message')}"}
