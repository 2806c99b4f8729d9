"""PluginHost: runs raw-interface plugins exactly the way Stash does (stash pkg/plugin/*.go).

One process per task run or hook call; one JSON object on stdin (server_connection + args), then stdin is
closed; stdout is read to EOF, then the process is waited for; stderr is the log channel. Hooks run
synchronously in the caller's thread (inside the mutation); tasks run through a one-at-a-time job queue.
"""

from __future__ import annotations

import datetime
import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable

from sandbox.capture import capture
from sandbox.host_jobs import JobContext, JobManager
from sandbox.host_log import LogEntry, LogViewer, read_plugin_stderr
from sandbox.host_manifest import ManifestError, PluginConfig, find_manifests, load_manifest

if TYPE_CHECKING:
    from sandbox.stash import StashSim

MAX_CYCLIC_LOOP_DEPTH = 10          # stash maxCyclicLoopDepth (since v0.25.0)
SESSION_MAX_AGE = 3600              # stash DefaultMaxSessionAge
PYTHON_COMMANDS = ("python", "python3")
Visited = list[tuple[str, str]]


@dataclass
class RunResult:
    output: Any
    error: str | None
    returncode: int | None


class PluginHost:
    def __init__(self, plugins_dir: str, stash_dir: str, port: int = 9999) -> None:
        self.plugins_dir = os.path.abspath(plugins_dir)
        self.stash_dir = os.path.abspath(stash_dir)   # Stash's Dir, and the plugins' working directory
        self.port = port
        self.plugins: dict[str, PluginConfig] = {}
        self.disabled: set[str] = set()
        self._viewer = LogViewer()
        self.log: list[LogEntry] = self._viewer.entries   # (level, text); read it, don't mutate it
        self._stash: StashSim | None = None
        self._jobs = JobManager(on_error=lambda msg: self._viewer.add("error", msg))
        self._procs_lock = threading.Condition()
        self._procs: set[subprocess.Popen] = set()
        self._hooks_running = 0
        self._closing = threading.Event()

    # --- wiring -------------------------------------------------------------------------------------
    def attach(self, stash: "StashSim") -> None:
        """The simulated Stash: its port goes into server_connection and it mints session cookies."""
        self._stash = stash

    def _server_port(self) -> int:
        port = getattr(self._stash, "port", None) if self._stash is not None else None
        return int(port) if port else self.port

    # --- loading ------------------------------------------------------------------------------------
    def load_plugins(self) -> None:
        """(Re)load every manifest under plugins_dir; broken ones are logged and left out."""
        plugins: dict[str, PluginConfig] = {}
        os.makedirs(self.plugins_dir, exist_ok=True)
        for path in find_manifests(self.plugins_dir):
            try:
                config = load_manifest(path)
            except (ManifestError, OSError, UnicodeDecodeError) as exc:
                self.host_log("error", f"Error loading plugin {path}: {exc}")
                continue
            if any(existing.lower() == config.id.lower() for existing in plugins):
                self.host_log("error", f"Error loading plugin {path}: plugin ID {config.id} already exists")
                continue
            plugins[config.id] = config
        self.plugins = plugins

    def set_enabled(self, plugin_id: str, enabled: bool) -> None:
        (self.disabled.discard if enabled else self.disabled.add)(plugin_id)

    def plugin_for_assets(self, plugin_id: str) -> tuple[PluginConfig | None, bool]:
        """The plugin Stash's /plugin/<id>/assets route serves from, and whether it is enabled."""
        plugin = self.plugins.get(plugin_id)
        return plugin, plugin is not None and plugin_id not in self.disabled

    def enabled_plugins(self) -> list[PluginConfig]:
        return [p for pid, p in self.plugins.items() if pid not in self.disabled]

    # --- log viewer ---------------------------------------------------------------------------------
    def host_log(self, level: str, text: str) -> None:
        self._viewer.add(level, text)

    def plugin_log(self, plugin: PluginConfig, level: str, text: str) -> None:
        self._viewer.add(level, f"[Plugin / {plugin.name}] {text}")

    def log_snapshot(self) -> list[LogEntry]:
        return self._viewer.snapshot()

    def wait_for_log(self, predicate: Callable[[LogEntry], bool], timeout: float, start: int = 0) -> LogEntry | None:
        """First log entry (from index start) matching predicate within timeout seconds, else None."""
        return self._viewer.wait_for(predicate, timeout, start)

    # --- hooks --------------------------------------------------------------------------------------
    def fire_hooks(self, trigger: str, object_id: int | str | None, input_obj: Any,
                   input_fields: Iterable[str] | None, visited: Visited | None) -> None:
        """Run every enabled plugin's hooks for trigger, one process at a time, and wait for each
        (stash executePostHooks). A plugin is skipped once (plugin, trigger) was visited 10 times."""
        visited = [tuple(v) for v in (visited or [])]
        fields = list(input_fields or [])
        with self._procs_lock:
            self._hooks_running += 1
        try:
            for plugin in self.enabled_plugins():
                hooks = plugin.hooks_for(trigger)
                if not hooks:
                    continue
                pair = (plugin.id, trigger)
                if visited.count(pair) >= MAX_CYCLIC_LOOP_DEPTH:
                    self.host_log("debug", f"plugin ID '{plugin.id}' already triggered, not re-triggering")
                    continue
                cookie_visited = visited + [pair]
                for hook in hooks:
                    if self._closing.is_set():
                        return
                    args = dict(hook.default_args)
                    args["hookContext"] = _hook_context(object_id, trigger, input_obj, fields)
                    result = self._run(plugin, hook.exec_args, args, cookie_visited, on_progress=None)
                    if result is None:       # could not start: Stash abandons the remaining hooks
                        return
                    if result.error is not None:
                        self.host_log("error", f"{trigger} [{plugin.name}]: returned error: {result.error}")
                    elif result.output is not None:
                        self.host_log("debug", f"{trigger} [{plugin.name}]: returned: {_fmt(result.output)}")
        finally:
            with self._procs_lock:
                self._hooks_running -= 1
                self._procs_lock.notify_all()

    # --- tasks / job queue --------------------------------------------------------------------------
    def run_task(self, plugin_id: str, task_name: str | None, args_map: dict | None = None,
                 description: str | None = None) -> str:
        """Queue a plugin task (runPluginTask); returns the job id. args_map overlays defaultArgs."""
        desc = description or f"Running plugin task: {task_name}"
        return self._jobs.add(desc, lambda ctx: self._run_task_job(ctx, plugin_id, task_name, args_map))

    def _run_task_job(self, ctx: JobContext, plugin_id: str, task_name: str | None, args_map: dict | None) -> None:
        plugin = self.plugins.get(plugin_id)
        if plugin is None:
            raise RuntimeError(f"no plugin with ID {plugin_id}")        # CreateTask's wording
        args: dict[str, Any] = {}
        exec_args: list[str] = []
        if task_name:        # without a task name no defaults apply (resolver_mutation_plugin.go)
            task = plugin.task(task_name)
            if task is None:
                raise RuntimeError(f"no task with name {task_name} in plugin {plugin.name}")
            args.update(task.default_args)
            exec_args = task.exec_args
        args.update(args_map or {})
        result = self._run(plugin, exec_args, args, [], on_progress=ctx.set_progress, job=ctx)
        if result is None or ctx.stopped.is_set():
            return
        if result.error is not None:
            self.host_log("error", f"Plugin returned error: {result.error}")    # task_plugin.go: no prefix
        elif result.output is not None:
            self.host_log("debug", f"Plugin returned: {_fmt(result.output)}")

    def add_job(self, description: str, func: Callable[[JobContext], None]) -> str:
        """Queue one of Stash's own jobs (Auto Tag, a scan ...) behind whatever is queued."""
        return self._jobs.add(description, func)

    def find_job(self, job_id: str | int) -> dict | None:
        return self._jobs.find(str(job_id))

    def job_queue(self) -> list[dict]:
        return self._jobs.queue()

    def stop_job(self, job_id: str | int) -> bool:
        return self._jobs.stop(str(job_id))

    def wait_idle(self, timeout: float) -> bool:
        """True once no job is queued or running and no hook is in flight (within timeout seconds)."""
        deadline = time.monotonic() + timeout
        if not self._jobs.wait_idle(timeout):
            return False
        with self._procs_lock:
            while self._hooks_running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._procs_lock.wait(remaining)
        return self._jobs.wait_idle(max(0.0, deadline - time.monotonic()))

    def close(self, timeout: float = 10.0) -> None:
        """Cancel jobs, SIGKILL every plugin process still running, stop the worker."""
        self._closing.set()
        self._jobs.close(timeout)
        with self._procs_lock:
            procs = list(self._procs)
        for proc in procs:
            _kill(proc)

    # --- running one process ------------------------------------------------------------------------
    def build_command(self, plugin: PluginConfig, exec_args: list[str]) -> tuple[list[str], dict[str, str]]:
        """argv and env as stash raw.go builds them (config.go getExecCommand, pkg/python)."""
        if not plugin.exec:
            raise RuntimeError("plugin has no exec")
        plugin_dir = plugin.plugin_dir
        command = plugin.exec[0]
        args = [a.replace("{pluginDir}", plugin_dir) for a in list(plugin.exec[1:]) + list(exec_args)]
        env = dict(os.environ)
        if command in PYTHON_COMMANDS:
            command = sys.executable      # the configured python_path of this sandbox
            parent = os.path.dirname(plugin_dir)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), parent) if p)
        elif shutil.which(command) is None:
            command = os.path.join(plugin_dir, command)
        return [command] + args, env

    def build_input(self, plugin: PluginConfig, args: dict[str, Any], visited: Visited) -> dict[str, Any]:
        """The stdin object: buildPluginInput + makeServerConnection."""
        return {
            "server_connection": {
                "Scheme": getattr(self._stash, "scheme", "http"),
                "Host": "0.0.0.0",
                "Port": self._server_port(),
                "SessionCookie": self._session_cookie(visited),
                "Dir": self.stash_dir,
                "PluginDir": plugin.plugin_dir,
            },
            "args": args,
        }

    def _session_cookie(self, visited: Visited) -> dict[str, Any]:
        """A Go http.Cookie marshalled to JSON (no json tags, so Go field names)."""
        value = self._stash.make_session_cookie(list(visited)) if self._stash is not None else ""
        expires = datetime.datetime.now().astimezone() + datetime.timedelta(seconds=SESSION_MAX_AGE)
        return {"Name": "session", "Value": value, "Quoted": False, "Path": "/", "Domain": "",
                "Expires": expires.isoformat(timespec="seconds"), "RawExpires": "", "MaxAge": SESSION_MAX_AGE,
                "Secure": False, "HttpOnly": False, "SameSite": 2, "Partitioned": False, "Raw": "",
                "Unparsed": None}

    def _run(self, plugin: PluginConfig, exec_args: list[str], args: dict[str, Any], visited: Visited,
             on_progress: Callable[[float], None] | None, job: JobContext | None = None) -> RunResult | None:
        """Start the plugin, feed stdin, read stdout to EOF, wait; None if it could not be started."""
        if plugin.interface != "raw":
            # rpc (Go JSON-RPC) and js (goja inside Stash) cannot run here; report it as the run's error.
            return RunResult(output=None, error=f"interface {plugin.interface} is not supported by the sandbox",
                             returncode=None)
        try:
            argv, env = self.build_command(plugin, exec_args)
            payload = json.dumps(self.build_input(plugin, args, visited)).encode("utf-8")
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=self.stash_dir, env=env)
        except (OSError, RuntimeError) as exc:
            self.host_log("error", f"error executing post hooks: {exc}" if job is None
                          else f"error running plugin task: {exc}")
            return None
        with self._procs_lock:
            self._procs.add(proc)
        if job is not None:
            job.on_stop = lambda: _kill(proc)
            if job.stopped.is_set():          # Stop arrived before the process existed
                _kill(proc)
        if self._closing.is_set():
            _kill(proc)
        log_thread = threading.Thread(
            target=read_plugin_stderr, name=f"plugin-stderr-{plugin.id}", daemon=True,
            args=(proc.stderr, lambda level, text: self.plugin_log(plugin, level, text),
                  plugin.err_log_level, on_progress))
        log_thread.start()
        threading.Thread(target=_feed_stdin, args=(proc.stdin, payload), daemon=True).start()
        try:
            stdout = self._read_to_eof(proc)
            returncode = proc.wait()
        finally:
            with self._procs_lock:
                self._procs.discard(proc)
        log_thread.join(timeout=5)           # a grandchild may hold stderr open; don't hang on it
        capture("stdout", stdout)
        return _parse_output(stdout, returncode)

    def _read_to_eof(self, proc: subprocess.Popen) -> bytes:
        """Read stdout to EOF (a grandchild holding the pipe keeps us waiting, as in Stash); polled so
        that host shutdown can abandon it."""
        fd = proc.stdout.fileno()
        chunks: list[bytes] = []
        try:
            while True:
                ready, _, _ = select.select([fd], [], [], 0.2)
                if not ready:
                    if self._closing.is_set():
                        _kill(proc)
                        if proc.poll() is not None:
                            break
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            proc.stdout.close()
        return b"".join(chunks)


def _hook_context(object_id: int | str | None, trigger: str, input_obj: Any, fields: list[str]) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    if object_id not in (None, 0, "0", ""):
        ctx["id"] = int(object_id)
    ctx["type"] = trigger
    ctx["input"] = input_obj
    if fields:
        ctx["inputFields"] = fields
    return ctx


def _feed_stdin(stdin: IO[bytes], payload: bytes) -> None:
    """Write the input in its own thread (a plugin that never reads must not block us), then close."""
    try:
        stdin.write(payload)
    except (BrokenPipeError, OSError):
        pass
    finally:
        try:
            stdin.close()
        except OSError:
            pass


def _parse_output(stdout: bytes, returncode: int) -> RunResult:
    """{"output", "error"} if stdout is that JSON object, else the whole text is the output;
    a non-zero exit gives error "exit status N" unless the JSON already had an error."""
    text = stdout.decode("utf-8", errors="replace")
    output: Any = text
    error: str | None = None
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    # Go unmarshals into PluginOutput{Error *string; Output interface{}}: a non-object or a non-string
    # error fails the unmarshal, and then the whole text is the output.
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), (str, type(None))):
        output = parsed.get("output")
        error = parsed.get("error")
    if returncode != 0 and error is None:
        # Go's ExitError text; a signal kill reads "signal: killed".
        error = f"exit status {returncode}" if returncode > 0 else f"signal: {_signal_name(-returncode)}"
    return RunResult(output=output, error=error, returncode=returncode)


def _signal_name(signum: int) -> str:
    return {9: "killed", 15: "terminated", 2: "interrupt"}.get(signum, f"signal {signum}")


def _fmt(output: Any) -> str:
    return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the direct child only: no process group, no SIGTERM, no grace period (raw.go Stop)."""
    try:
        proc.kill()
    except OSError:
        pass
