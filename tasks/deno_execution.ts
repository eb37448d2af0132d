// Runs model-written Python (HumanEval's programs) in a child python3, the way the
// reference's execution.py does, so a bad reply cannot stall the evaluation or damage the
// machine by accident.
//
// What the sandbox does:
//   - a fresh temporary directory as cwd (and HOME, TMPDIR), removed afterwards;
//   - no inherited environment (clearEnv: only PATH, HOME, TMPDIR), stdin closed,
//     python run with -I (no user site-packages, no PYTHON* variables, cwd not on sys.path);
//   - its own process group (setsid), killed whole with SIGKILL at the wall-clock timeout;
//   - resource limits set in the child before the program runs: RLIMIT_AS and RLIMIT_DATA
//     (memory), RLIMIT_CPU (a backstop to the wall clock), RLIMIT_FSIZE (file size),
//     RLIMIT_NPROC 0 (no new processes or threads), RLIMIT_CORE 0 (no core dumps);
//   - a reliability guard like the reference's: os.system/kill/fork/exec*/remove/rmdir/…,
//     shutil.rmtree/move, subprocess.* and exit/quit raise PermissionError; open/io.open/
//     os.open refuse to write outside the temporary directory and to touch /proc (where
//     the parent's environment can be read); ctypes and resource cannot be imported;
//   - exiting early (sys.exit, os._exit) counts as a failure, so a reply cannot skip the
//     tests; the reference likewise fails on any exception, SystemExit included.
// Removing or renaming files is refused everywhere, inside the temporary directory too (as
// in the reference), so e.g. tempfile.gettempdir(), which checks by deleting a probe file,
// fails; HumanEval's programs need none of it.
//
// What it does not do: it is a guard against accidents of model-written code, not a
// security boundary against a determined attacker. The program runs as this user with
// this user's file permissions: it can read any file the user can, open sockets (no
// network isolation), and get around the Python-level guard (the originals stay reachable
// through _io, posix internals, closures or bytecode tricks). When run as root, RLIMIT_NPROC
// does not apply and the hard limits could be raised by code that reaches setrlimit. For
// untrusted code at scale use a container or VM with no network.
import { UserError } from "../src/util/errors.ts";
import type { ExecutionResult } from "./humaneval.ts";

export type { ExecutionResult } from "./humaneval.ts";

export interface RunPythonOptions {
  /** Wall-clock limit; the process group is killed when it passes (default 3000). */
  timeoutMs?: number;
  /** Address-space limit in MiB (default 256). */
  memoryMb?: number;
  /** The interpreter to run (default "python3" on PATH). */
  python?: string;
}

/** python3 is missing or unusable: the message says how to install it. */
export class PythonMissingError extends UserError {
  override name = "PythonMissingError";
}

const OUTPUT_LIMIT = 4096; // bytes kept of stdout and of stderr each
const FILE_LIMIT = 16 * 1024 * 1024; // RLIMIT_FSIZE: the largest file the program may write
const SETUP_FAILED = "nanochat-sandbox-setup-failed";

// Runs before the program, in the child. argv: tmp dir, program file, cpu s, memory bytes, file bytes.
const PREAMBLE = String.raw`
import sys, os, io, builtins, resource, traceback, subprocess, shutil, posix
_exit = os._exit
try:
    tmp = os.path.realpath(sys.argv[1])
    cpu, mem, fsize = (int(a) for a in sys.argv[3:6])
    try:
        os.setsid()  # own process group, if setsid(1) did not already give one
    except OSError:
        pass
    with open(sys.argv[2], encoding="utf-8") as f:
        source = f.read()
    def limit(which, n):
        hard = resource.getrlimit(which)[1]
        if hard != resource.RLIM_INFINITY:
            n = min(n, hard)
        resource.setrlimit(which, (n, n))
    limit(resource.RLIMIT_AS, mem)
    limit(resource.RLIMIT_DATA, mem)
    limit(resource.RLIMIT_CPU, cpu)
    limit(resource.RLIMIT_FSIZE, fsize)
    limit(resource.RLIMIT_CORE, 0)
    limit(resource.RLIMIT_NPROC, 0)
except Exception as e:
    print("${SETUP_FAILED}:", repr(e), file=sys.stderr)
    _exit(3)

def refuse(name):
    def refused(*args, **kwargs):
        raise PermissionError(name + " is disabled in the HumanEval sandbox")
    return refused

def resolved(path):
    p = os.fspath(path)
    return os.path.realpath(os.path.join(tmp, os.fsdecode(p)))

def inside_tmp(full):
    return full == tmp or full.startswith(tmp + os.sep)

def check_path(path, writing):
    if isinstance(path, int):
        return  # an already open descriptor
    full = resolved(path)
    if full == "/proc" or full.startswith("/proc/"):
        raise PermissionError("reading /proc is not allowed in the HumanEval sandbox: " + repr(path))
    if writing and not inside_tmp(full):
        raise PermissionError("writing outside the sandbox's temporary directory is not allowed: " + repr(path))

real_open = io.open
def guarded_open(file, mode="r", *args, **kwargs):
    check_path(file, isinstance(mode, str) and any(c in mode for c in "wax+"))
    return real_open(file, mode, *args, **kwargs)
builtins.open = io.open = guarded_open

real_os_open = os.open
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
def guarded_os_open(path, flags, *args, **kwargs):
    check_path(path, bool(flags & WRITE_FLAGS) or kwargs.get("dir_fd") is not None)
    return real_os_open(path, flags, *args, **kwargs)
os.open = guarded_os_open

for name in ("system", "popen", "kill", "killpg", "fork", "forkpty", "vfork", "_exit", "abort",
             "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe",
             "spawnv", "spawnve", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe",
             "posix_spawn", "posix_spawnp", "remove", "unlink", "removedirs", "rmdir", "rename",
             "renames", "replace", "truncate", "link", "symlink", "mkfifo", "mknod", "chmod", "fchmod",
             "lchmod", "chown", "fchown", "lchown", "chroot", "chdir", "fchdir", "putenv", "unsetenv",
             "setuid", "seteuid", "setreuid", "setresuid", "setgid", "setegid", "setregid", "setresgid",
             "setsid", "setpgid", "setpgrp", "nice"):
    for module in (os, posix):
        if hasattr(module, name):
            setattr(module, name, refuse("os." + name))
for name in ("rmtree", "move", "chown"):
    setattr(shutil, name, refuse("shutil." + name))
for name in ("Popen", "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput"):
    setattr(subprocess, name, refuse("subprocess." + name))
builtins.exit = refuse("exit()")
builtins.quit = refuse("quit()")
builtins.help = refuse("help()")
for name in ("ctypes", "_ctypes", "resource", "_posixsubprocess", "multiprocessing", "ipdb", "joblib", "psutil", "tkinter"):
    sys.modules[name] = None

code = 0
try:
    program = compile(source, os.path.join(tmp, "program.py"), "exec")
    exec(program, {"__name__": "__main__", "__file__": program.co_filename, "__builtins__": builtins})
except SystemExit as e:
    print("the program exited (SystemExit %r) before it finished" % (e.code,), file=sys.stderr)
    code = 1
except BaseException:
    code = 1
    try:
        traceback.print_exc()
    except BaseException:
        print("the program raised an exception", file=sys.stderr)
try:
    sys.stdout.flush()
    sys.stderr.flush()
except BaseException:
    code = 1
_exit(code)
`;

interface Interpreter {
  executable: string;
  setsid: string | null;
}

const interpreters = new Map<string, Promise<Interpreter>>();

/** Finds python (its absolute path, so the child's minimal PATH does not matter) and setsid, once per name. */
function interpreter(python: string): Promise<Interpreter> {
  let found = interpreters.get(python);
  if (!found) {
    found = probe(python);
    interpreters.set(python, found);
  }
  return found;
}

async function probe(python: string): Promise<Interpreter> {
  const install = "HumanEval runs the model's programs with Python 3: install it (sudo apt-get install -y python3) or pass the path of a python3";
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(python, { args: ["-I", "-c", "import sys, resource; print(sys.executable)"], stdin: "null", stdout: "piped", stderr: "piped" }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new PythonMissingError(`${python} was not found. ${install}`);
    throw err;
  }
  const executable = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || !executable) {
    throw new PythonMissingError(`${python} does not work as a POSIX Python 3 (${new TextDecoder().decode(out.stderr).trim().split("\n").pop()}). ${install}`);
  }
  return { executable, setsid: await onPath("setsid") };
}

async function onPath(name: string): Promise<string | null> {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":").filter(Boolean)) {
    const st = await Deno.stat(`${dir}/${name}`).catch(() => null);
    if (st?.isFile) return `${dir}/${name}`;
  }
  return null;
}

/**
 * Reads a stream, keeping its first and last `max / 2` bytes (the start of the output and
 * the end of a traceback) and draining the middle, so the child never blocks on a full pipe.
 */
function capture(stream: ReadableStream<Uint8Array>, max: number): { text: Promise<string>; cancel: () => void } {
  const reader = stream.getReader();
  const half = Math.floor(max / 2);
  const text = (async () => {
    const head = new Uint8Array(half);
    let n = 0, total = 0;
    let tail = new Uint8Array(0);
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done || !value) break;
      total += value.length;
      const take = Math.min(half - n, value.length);
      head.set(value.subarray(0, take), n);
      n += take;
      const rest = value.subarray(take);
      if (rest.length) {
        const joined = new Uint8Array(tail.length + rest.length);
        joined.set(tail);
        joined.set(rest, tail.length);
        tail = joined.slice(Math.max(0, joined.length - half));
      }
    }
    const dec = (b: Uint8Array) => new TextDecoder().decode(b);
    const cut = total - n - tail.length;
    return dec(head.subarray(0, n)) + (cut > 0 ? `\n… [${cut} bytes cut] …\n` : "") + dec(tail);
  })();
  return { text, cancel: () => void reader.cancel().catch(() => {}) };
}

function kill(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      Deno.kill(target, "SIGKILL");
      return;
    } catch { /* no such group (yet): try the process itself */ }
  }
}

/** Why a run failed, in a line: the timeout, a signal, or the exception's last stderr line. */
function reason(timedOut: boolean, timeoutMs: number, status: Deno.CommandStatus, stderr: string): string | undefined {
  if (timedOut) return `timed out after ${timeoutMs} ms`;
  if (status.success) return undefined;
  if (status.signal) return `killed by ${status.signal}${status.signal === "SIGXCPU" ? " (CPU time limit)" : ""}`;
  const last = stderr.trim().split("\n").filter((l) => !l.startsWith("… [")).pop();
  return last || `exit status ${status.code}`;
}

/** Runs a Python program in the sandbox described at the top of this file. */
export async function runPython(program: string, options: RunPythonOptions = {}): Promise<ExecutionResult> {
  const { timeoutMs = 3000, memoryMb = 256, python = "python3" } = options;
  if (!(timeoutMs > 0) || !(memoryMb > 0)) throw new RangeError(`runPython: timeoutMs and memoryMb must be positive, got ${timeoutMs} and ${memoryMb}`);
  const py = await interpreter(python);
  const dir = await Deno.makeTempDir({ prefix: "nanochat-humaneval-" });
  try {
    await Deno.writeTextFile(`${dir}/program.py`, program);
    const args = [
      "-I", "-B", "-X", "utf8", "-c", PREAMBLE,
      dir, `${dir}/program.py`, String(Math.ceil(timeoutMs / 1000) + 1), String(Math.floor(memoryMb * 1024 * 1024)), String(FILE_LIMIT),
    ];
    const child = new Deno.Command(py.setsid ?? py.executable, {
      args: py.setsid ? [py.executable, ...args] : args,
      cwd: dir, clearEnv: true, env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: dir, TMPDIR: dir },
      stdin: "null", stdout: "piped", stderr: "piped",
    }).spawn();
    const out = capture(child.stdout, OUTPUT_LIMIT), err = capture(child.stderr, OUTPUT_LIMIT);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill(child.pid);
    }, timeoutMs);
    const status = await child.status;
    clearTimeout(timer);
    // Anything that slipped out of the group could hold the pipes open: stop reading soon.
    const grace = setTimeout(() => (out.cancel(), err.cancel()), 500);
    const [stdout, stderr] = await Promise.all([out.text, err.text]);
    clearTimeout(grace);
    if (stderr.startsWith(SETUP_FAILED)) throw new Error(`the Python sandbox could not set its limits: ${stderr.slice(SETUP_FAILED.length + 1).trim()}`);
    const ok = status.success && !timedOut;
    return { ok, exitCode: status.signal ? null : status.code, timedOut, stdout, stderr, error: ok ? undefined : reason(timedOut, timeoutMs, status, stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
