"""Example raw plugin for the sandbox host tests (standard library only).

Every run records its stdin, argv, cwd and PYTHONPATH as JSON under outDir (arg) or <PluginDir>/out.
"""
import json
import os
import sys
import time
import urllib.request


def log(level: str, text: str) -> None:
    sys.stderr.write(f"\x01{level}\x02{text}\n")
    sys.stderr.flush()


def record(out_dir: str, mode: str, data: dict) -> None:
    os.makedirs(out_dir, exist_ok=True)
    name = f"{mode}-{time.time_ns()}-{os.getpid()}.json"
    tmp = os.path.join(out_dir, name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, os.path.join(out_dir, name))   # readers never see half a file


def gql(conn: dict, query: str, variables: dict) -> dict:
    """GraphQL call back into Stash with the session cookie (keeps the hook-loop guard working)."""
    host = "127.0.0.1" if conn["Host"] == "0.0.0.0" else conn["Host"]
    req = urllib.request.Request(
        f"{conn['Scheme']}://{host}:{conn['Port']}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json",
                 "Cookie": f"session={(conn.get('SessionCookie') or {}).get('Value', '')}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def main() -> None:
    raw = sys.stdin.read()
    data = json.loads(raw)
    conn, args = data["server_connection"], data["args"]
    mode = args.get("mode", "")
    out_dir = args.get("outDir") or os.path.join(conn["PluginDir"], "out")
    record(out_dir, mode, {"stdin": data, "argv": sys.argv, "cwd": os.getcwd(),
                           "pythonpath": os.environ.get("PYTHONPATH", ""), "pid": os.getpid(),
                           "executable": sys.executable})
    if mode == "hook":
        ctx = args["hookContext"]
        title = ((ctx.get("input") or {}).get("title")) or ""
        if title.startswith("loop"):
            gql(conn, "mutation($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }",
                {"input": {"id": str(ctx["id"]), "title": title}})
        if title == "fail":
            print(json.dumps({"output": None, "error": "hook failed on purpose"}))
            return
        print(json.dumps({"output": "recorded", "error": None}))
    elif mode == "progress":
        steps = int(args.get("steps", "4"))
        for i in range(1, steps + 1):
            log("i", f"step {i} of {steps}")
            log("p", str(i / steps))
        print(json.dumps({"output": "done", "error": None}))
    elif mode == "error":
        log("w", "about to fail")
        print(json.dumps({"output": None, "error": "boom"}))
    elif mode == "noisy":
        sys.stderr.write("plain stderr line\n")
        log("w", "prefixed warning")
        log("x", "unknown level char")
        print(json.dumps({"output": "noisy done", "error": None}))
    elif mode == "sleep":
        with open(os.path.join(out_dir, "sleep.pid"), "w") as fh:
            fh.write(str(os.getpid()))
        log("i", "sleeping")
        time.sleep(float(args.get("seconds", "120")))
        print(json.dumps({"output": "woke up", "error": None}))
    elif mode == "exit3":
        sys.exit(3)
    elif mode == "bigline":
        log("i", "before big line")
        sys.stderr.write("x" * 70000 + "\n")
        broken = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:   # the host stops reading and closes the pipe: EPIPE follows
            try:
                log("i", "after big line")
            except BrokenPipeError:
                broken = True
                break
            time.sleep(0.01)
        sys.stdout.write(json.dumps({"output": {"broken_pipe": broken}, "error": None}))
        sys.stdout.flush()
        os._exit(0)   # skip the exit-time flush of the broken stderr (it would change the exit status)
    else:
        print(json.dumps({"output": None, "error": f"unknown mode {mode!r}"}))


if __name__ == "__main__":
    main()
