"""Integration harness: a real apache2 (mpm_event) on 127.0.0.1 with the freshly
built mod_trustedapp. See README.md in this directory for the fixture contract.

Environment:
  TA_BUILD_DIR   build tree holding mod_trustedapp/mod_trustedapp.so
                 (default: <repo>/build/release)
  TA_SANITIZED=1 the module is built with ASan/UBSan: preload the compiler's
                 libasan into httpd and fail on any sanitizer report
  TA_KEEP=1      keep every server directory (default: kept only on failure)
  TA_COREDUMP_DIR=DIR  crashed apache2 processes dump core into DIR/<server
                 directory name>/ (CoreDumpDirectory + unlimited RLIMIT_CORE) and
                 a failing test shows gdb's backtrace of each core. Useful under
                 TA_SANITIZED too: httpd's own fatal-signal handler replaces
                 ASan's, so a segfault in a child prints no ASan report.
"""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import tasig  # noqa: E402

REPO = HERE.parents[1]
SHARED = REPO / ".." / "shared"
APACHE2 = "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")

# Modules every test server loads (mpm first). Tests may add more via `modules=`.
# (log_config and unixd are compiled into Debian's apache2.)
BASE_MODULES = ["mpm_event", "authn_core", "authz_core", "authz_user", "authz_host",
                "mime", "dir", "alias", "headers", "env", "setenvif", "socache_shmcb", "lua"]

# Error-log lines that fail a test unless it declared them expected.
BAD_LINE = re.compile(r"\[(?:[a-z_]+:)?(?:error|crit|alert|emerg)\]|AddressSanitizer|"
                      r"LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer|"
                      r"Segmentation fault|exit signal")


# httpd's own noise that says nothing about the module: the event MPM logs this
# when a child shuts down while a connection is still in lingering close.
BENIGN_LINES = [re.compile(r"\[mpm_event:error\].*AH03092: process_lingering_close: "
                           r"apr_pollset_add failure")]

# httpd 2.4's event MPM (2.4.71 here) can crash a child at an ungraceful stop
# (SIGTERM) when a worker has only just handed a finished connection to the
# listener: the child's main thread (signal_threads -> close_worker_sockets)
# dereferences a socket whose pool the exiting listener has already freed.
# It is reproduced with mod_trustedapp not even loaded (a static GET then an
# immediate SIGTERM: 3 children in 900 segfaulted in apr_os_sock_get, none in
# 600 with this pause). stop() therefore lets the last request settle this
# long before SIGTERM, so that httpd's race does not fail module tests;
# crashes anywhere else still fail them (tests/integration/test_shutdown.py
# stops servers during and right after module work on purpose).
STOP_SETTLE_SECONDS = 0.05


def build_dir():
    d = os.environ.get("TA_BUILD_DIR")
    return Path(d) if d else REPO / "build" / "release"


def module_path():
    so = build_dir() / "mod_trustedapp" / "mod_trustedapp.so"
    if not so.is_file():
        pytest.exit("mod_trustedapp.so not found at %s: build first "
                    "(./scripts/build.sh build/release) or set TA_BUILD_DIR" % so, returncode=2)
    return so


def coredump_dir():
    return os.environ.get("TA_COREDUMP_DIR")


def coredump_conf(root):
    d = coredump_dir()
    if not d:
        return ""
    d = os.path.join(d, root.name)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o1777)   # children dump as www-data
    return 'CoreDumpDirectory "%s"\n' % d


def core_backtraces(root):
    """gdb backtraces (all threads) of the cores an apache2 of this server left."""
    d = coredump_dir()
    if not d or not os.path.isdir(os.path.join(d, root.name)):
        return []
    out = []
    for name in sorted(os.listdir(os.path.join(d, root.name))):
        core = os.path.join(d, root.name, name)
        try:
            bt = subprocess.run(["gdb", "-q", "-batch", "-ex", "thread apply all bt 25", APACHE2,
                                 core], capture_output=True, text=True, timeout=120).stdout
        except (OSError, subprocess.TimeoutExpired) as e:
            bt = "gdb failed: %s" % e
        out.append("core %s:\n%s" % (core, "\n".join(l for l in bt.splitlines()
                                                     if l.startswith(("#", "Thread", "Program")))))
    return out


def _unlimited_core():
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def sanitized():
    return os.environ.get("TA_SANITIZED") == "1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def asan_runtime():
    for cc in ("gcc", "cc", "clang"):
        try:
            out = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True,
                                 text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            continue
        if out and os.path.isabs(out) and os.path.exists(out):
            return os.path.realpath(out)
    raise RuntimeError("TA_SANITIZED=1 but no libasan.so found")


# Echo handler: shows what the application behind the module sees.
ECHO_LUA = r"""
function handle(r)
  r.content_type = "text/plain"
  local body = ""
  if r.method == "POST" or r.method == "PUT" then
    body = r:requestbody() or ""
  end
  local env = r.subprocess_env
  r:puts("user=" .. (r.user or "") .. "\n")
  r:puts("auth_type=" .. (r.ap_auth_type or "") .. "\n")
  r:puts("app_id=" .. (env["TRUSTEDAPP_ID"] or "") .. "\n")
  r:puts("app_name=" .. (env["TRUSTEDAPP_NAME"] or "") .. "\n")
  r:puts("protocol=" .. (env["TRUSTEDAPP_PROTOCOL"] or "") .. "\n")
  r:puts("hdr_user=" .. (r.headers_in["TrustedApp-User"] or "") .. "\n")
  r:puts("hdr_app_id=" .. (r.headers_in["TrustedApp-Id"] or "") .. "\n")
  r:puts("hdr_seraph_cert=" .. (r.headers_in["X-Seraph-Trusted-App-Cert"] or "") .. "\n")
  local names = {}
  for k, _ in pairs(r:headers_in_table()) do names[#names + 1] = k:lower() end
  table.sort(names)
  r:puts("hdr_names=" .. table.concat(names, ",") .. "\n")
  r:puts("uri=" .. (r.uri or "") .. "\n")
  r:puts("body_len=" .. #body .. "\n")
  r:puts("pid=" .. tostring(r.server_info and 0 or 0) .. "\n")
  return apache2.OK
end
"""


def parse_echo(body):
    """The echo handler's key=value lines as a dict."""
    out = {}
    for line in body.decode(errors="replace").splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers      # http.client.HTTPMessage (case-insensitive get)
        self.body = body

    @property
    def error(self):
        return self.headers.get("TrustedApp-Error")

    @property
    def echo(self):
        return parse_echo(self.body)

    def __repr__(self):
        return "<Response %d error=%s>" % (self.status, self.error)


class Httpd:
    """One running apache2. Created by the `httpd` fixture factory."""

    def __init__(self, root, port, conf_body, registry, modules, global_conf, mpm, name):
        self.root = root
        self.port = port
        self.name = name
        self.conf_body = conf_body
        self.modules = modules
        self.global_conf = global_conf
        self.mpm = mpm
        self.registry_path = root / "registry.xml"
        self.docroot = root / "htdocs"
        self.conf_path = root / "httpd.conf"
        self.log_path = root / "error.log"
        self.access_log_path = root / "access.log"
        self.pid_path = root / "httpd.pid"
        self.expected = []
        self.running = False
        self.tls_context = None      # set to an ssl.SSLContext when the server speaks TLS
        self.proc = None
        self.exit_status = None      # apache2's exit status once stopped
        self.last_io = 0.0           # time.time() of the last request through this object
        self._setup_tree(registry)
        self.write_conf()

    # ---- files
    def _setup_tree(self, registry):
        (self.root / "run").mkdir(exist_ok=True)
        for d in ("", "rest", "rest/api", "restricted", "secure", "public", "other"):
            p = self.docroot / d
            p.mkdir(parents=True, exist_ok=True)
            (p / "index.html").write_text("content of /%s\n" % d)
        (self.root / "echo.lua").write_text(ECHO_LUA)
        if registry is not None:
            self.write_registry(registry)

    def write_registry(self, xml, bump_mtime=True):
        """Replace the registry file atomically (as trustapp-admin does)."""
        tmp = self.registry_path.with_suffix(".tmp")
        tmp.write_text(xml)
        os.chmod(tmp, 0o644)
        if bump_mtime and self.registry_path.exists():
            # The module polls mtime/size/inode; make sure a change is visible.
            st = self.registry_path.stat()
            os.utime(tmp, (st.st_atime + 2, st.st_mtime + 2))
        os.replace(tmp, self.registry_path)

    def write_conf(self):
        user = ""
        if os.geteuid() == 0:
            user = "User www-data\nGroup www-data\n"
        mods = "\n".join("LoadModule %s_module %s/mod_%s.so" % (m, MODULES, m)
                         for m in ["mpm_" + self.mpm] + BASE_MODULES[1:] + self.modules)
        conf = f"""# generated by tests/integration/conftest.py
ServerRoot "{self.root}"
DefaultRuntimeDir "{self.root}/run"
PidFile "{self.pid_path}"
ErrorLog "{self.log_path}"
LogLevel warn trustedapp:debug
LogFormat "%h %u \\"%r\\" %>s %{{TrustedApp-Error}}o pid=%P" ta
CustomLog "{self.access_log_path}" ta
Listen 127.0.0.1:{self.port}
ServerName 127.0.0.1:{self.port}
{mods}
LoadModule trustedapp_module "{module_path()}"
{user}{coredump_conf(self.root)}TypesConfig /etc/mime.types
Timeout 10
KeepAlive Off
StartServers 1
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 16
GracefulShutdownTimeout 3
DocumentRoot "{self.docroot}"
DirectoryIndex index.html
<Directory />
  AllowOverride None
  Require all granted
</Directory>
LuaMapHandler ^/echo(/.*)?$ "{self.root}/echo.lua" handle
{self.global_conf}
{self.conf_body.replace("@ROOT@", str(self.root)).replace("@REGISTRY@", str(self.registry_path))}
"""
        self.conf_path.write_text(conf)

    # ---- process control
    def _env(self):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        if sanitized():
            env["LD_PRELOAD"] = asan_runtime()
            env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:verify_asan_link_order=0"
            if coredump_dir():
                env["ASAN_OPTIONS"] += ":disable_coredump=0"
            env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        return env

    def ctl(self, *args, check=True):
        p = subprocess.run([APACHE2, "-d", str(self.root), "-f", str(self.conf_path)] + list(args),
                           capture_output=True, text=True, env=self._env(), timeout=30)
        if check and p.returncode != 0:
            raise RuntimeError("apache2 %s failed (%d): %s%s\n--- error.log:\n%s"
                               % (" ".join(args), p.returncode, p.stdout, p.stderr, self.error_log()))
        return p

    def configtest(self):
        """Runs apache2 -t; returns the CompletedProcess (returncode, stdout, stderr)."""
        return self.ctl("-t", check=False)

    def start(self):
        """Runs apache2 in the foreground as a child of the test, so that its exit
        status is known (a parent crashing at shutdown fails the test). Returns a
        CompletedProcess: returncode 0 once the server answers on its port, or
        apache2's exit status and output when it did not start."""
        args = [APACHE2, "-d", str(self.root), "-f", str(self.conf_path), "-DFOREGROUND"]
        self.console_path = self.root / "console.log"
        out = open(self.console_path, "wb")
        try:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=self._env(),
                                         start_new_session=True,
                                         preexec_fn=_unlimited_core if coredump_dir() else None)
        finally:
            out.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.exit_status = rc
                return subprocess.CompletedProcess(args, rc if rc else 1, "", self.console())
            if self.pid_path.exists():
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        self.running = True
                        self.last_io = time.time()
                        return subprocess.CompletedProcess(args, 0, "", self.console())
                except OSError:
                    pass
            time.sleep(0.02)
        self._kill_group()
        raise RuntimeError("apache2 did not come up on port %d:\n%s%s"
                           % (self.port, self.console(), self.error_log()))

    def console(self):
        """apache2's own stdout/stderr (start-up messages, sanitizer reports of the parent)."""
        try:
            return self.console_path.read_text(errors="replace")
        except (AttributeError, OSError):
            return ""

    def _kill_group(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.exit_status = self.proc.wait()

    def _wait_up(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.pid_path.exists():
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        self.last_io = time.time()
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("apache2 did not come up on port %d:\n%s" % (self.port, self.error_log()))

    def generation(self):
        """Number of (re)starts logged so far."""
        return self.error_log().count("resuming normal operations")

    def reload(self, timeout=20):
        """Graceful restart, returns when the new generation serves."""
        before = self.generation()
        self.ctl("-k", "graceful")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.generation() > before:
                self._wait_up()
                return
            time.sleep(0.05)
        raise RuntimeError("graceful restart not seen in the error log:\n" + self.error_log())

    def pid(self):
        try:
            return int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout=15, settle=True):
        """SIGTERM, then wait for apache2 to exit; its exit status is kept in
        exit_status (negative: killed by that signal, e.g. a crash at shutdown).
        settle: first wait STOP_SETTLE_SECONDS after the last request (httpd race)."""
        if not self.running:
            return
        self.running = False
        pause = STOP_SETTLE_SECONDS - (time.time() - self.last_io)
        if settle and pause > 0:
            time.sleep(pause)
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.exit_status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill_group()
            self.exit_status = "did not stop within %ds (killed)" % timeout

    # ---- logs
    def error_log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def access_log(self):
        try:
            return self.access_log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_access(self, lines, timeout=5):
        """Wait until the access log has at least this many lines (written after the response)."""
        deadline = time.time() + timeout
        while True:
            log = self.access_log().splitlines()
            if len(log) >= lines or time.time() > deadline:
                return log
            time.sleep(0.02)

    def expect_log(self, pattern):
        """Declare an error-log line (regex) that is expected and must not fail the test."""
        self.expected.append(re.compile(pattern))

    def unexpected_log_lines(self):
        bad = []
        for line in self.error_log().splitlines() + self.console().splitlines():
            if BAD_LINE.search(line) and not any(p.search(line)
                                                 for p in self.expected + BENIGN_LINES):
                bad.append(line)
        if self.exit_status not in (None, 0, 1):
            # 1 is a refused start (tested on purpose); anything else is a crash or hang.
            bad.append("apache2 parent exit status: %s" % self.exit_status)
        if bad:
            bad += core_backtraces(self.root)
        return bad

    def wait_log(self, pattern, timeout=5):
        """Wait for a regex to appear in the error log; returns the match."""
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.error_log())
            if m or time.time() > deadline:
                return m
            time.sleep(0.05)

    # ---- requests
    def url(self, path="/"):
        return "%s://127.0.0.1:%d%s" % ("https" if self.tls_context else "http", self.port, path)

    def request(self, method, path, headers=(), body=None, timeout=10, source=None, context=None):
        """Sends one request with the target exactly as given (no re-encoding).
        source: local address to connect from (any 127.x.y.z works on Linux).
        context: ssl.SSLContext for this request (default: self.tls_context)."""
        context = context or self.tls_context
        src = (source, 0) if source else None
        if context:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               source_address=src, context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                              source_address=src)
        try:
            conn.putrequest(method, path, skip_host=any(n.lower() == "host" for n, _ in headers),
                            skip_accept_encoding=True)
            names = {n.lower() for n, _ in headers}
            for n, v in headers:
                conn.putheader(n, v)
            if body is not None and "content-length" not in names \
                    and "transfer-encoding" not in names:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            conn.close()
            self.last_io = time.time()

    def raw(self, data, timeout=10):
        """Sends raw bytes, returns (status, raw response bytes)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        self.last_io = time.time()
        resp = b"".join(chunks)
        m = re.match(rb"HTTP/1\.[01] (\d{3})", resp)
        return (int(m.group(1)) if m else None), resp

    def signed(self, method, path, app, user="alice", body=None, headers=(), source=None,
               context=None, **kw):
        """Signs with tasig (app: an App) and sends; kw goes to tasig.sign_request."""
        s = tasig.sign_request(method, self.url(path), app.key, app.id, user=user, body=body,
                               headers=headers, **kw)
        return self.request(method, path, list(headers) + s.headers, body, source=source,
                            context=context)


# ------------------------------------------------------------------ registry helpers
class App:
    """A test application: id, private key, and its <application> element."""

    def __init__(self, app_id, alg="ed25519", key=None, name=None, ips=("127.0.0.1", "::1"),
                 paths=("/",), users_allow=(), users_deny=(), timeout_ms=300000,
                 enabled=True, protocols=None, cert_sha256=None, extra_keys=()):
        self.id = app_id
        self.alg = alg
        self.key = key or tasig.generate_key(alg)
        self.name = name or app_id
        self.ips = list(ips)
        self.paths = list(paths)
        self.users_allow = list(users_allow)
        self.users_deny = list(users_deny)
        self.timeout_ms = timeout_ms
        self.enabled = enabled
        self.protocols = protocols
        self.cert_sha256 = cert_sha256
        self.extra_keys = list(extra_keys)   # (public_pem, alg, not_before, not_after) for rotation

    def xml(self):
        """The <application> element (schema: lib/registry.xsd)."""
        from xml.sax.saxutils import escape, quoteattr
        attrs = ' id=%s name=%s enabled="%s"' % (quoteattr(self.id), quoteattr(self.name),
                                                  "true" if self.enabled else "false")
        if self.protocols:
            attrs += " protocols=%s" % quoteattr(self.protocols)
        parts = ["  <application%s>" % attrs]
        parts.append('    <key alg="%s">\n%s    </key>' % (self.alg, escape(tasig.public_pem(self.key))))
        for pem, alg, nb, na in self.extra_keys:
            a = ' alg="%s"' % alg
            if nb:
                a += ' not-before="%s"' % nb
            if na:
                a += ' not-after="%s"' % na
            parts.append('    <key%s>\n%s    </key>' % (a, escape(pem)))
        parts.append("    <timeout>%d</timeout>" % self.timeout_ms)
        parts += ["    <ip>%s</ip>" % escape(ip) for ip in self.ips]
        parts += ["    <path>%s</path>" % escape(p) for p in self.paths]
        parts += ["    <user-allow>%s</user-allow>" % escape(u) for u in self.users_allow]
        parts += ["    <user-deny>%s</user-deny>" % escape(u) for u in self.users_deny]
        if self.cert_sha256:
            parts.append("    <client-cert sha256=%s/>" % quoteattr(self.cert_sha256))
        parts.append("  </application>")
        return "\n".join(parts)


def registry_xml(*apps, self_id=None, self_key_file=None):
    """A registry document holding these App objects (format: docs/REGISTRY.md)."""
    from xml.sax.saxutils import quoteattr
    body = "\n".join(a.xml() for a in apps)
    me = ""
    if self_id:
        me = "  <self id=%s%s/>\n" % (quoteattr(self_id),
                                      " key-file=%s" % quoteattr(self_key_file) if self_key_file else "")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<registry xmlns="urn:mod-trustedapp:registry:1" version="1">\n%s%s\n</registry>\n'
            % (me, body))


# A protected location with native signatures; the most common test set-up.
PROTECTED_CONF = """
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  AuthName "trusted applications"
  Require valid-user
</Location>
<Location "/public">
  Require all granted
</Location>
"""


class ServerSet:
    """Servers started for one test (or one module, for shared servers)."""

    def __init__(self, label, cache=False):
        self.label = label
        self.cache = {} if cache else None
        self.servers = []

    def make(self, conf=PROTECTED_CONF, apps=(), registry=None, modules=(), global_conf="",
             start=True, mpm="event", name=None):
        if registry is None and apps:
            registry = registry_xml(*apps)
        key = (conf, registry, tuple(modules), global_conf, mpm)
        if self.cache is not None and key in self.cache:
            return self.cache[key]
        root = Path(tempfile.mkdtemp(prefix="ta-it-%s-" % self.label[:40].replace("/", "_")))
        os.chmod(root, 0o755)   # children run as www-data when the tests run as root
        srv = Httpd(root, free_port(), conf, registry, list(modules), global_conf, mpm, name)
        self.servers.append(srv)
        if start:
            p = srv.start()
            if p.returncode != 0:
                raise RuntimeError("apache2 failed to start (%d): %s%s\n--- error.log:\n%s"
                                   % (p.returncode, p.stdout, p.stderr, srv.error_log()))
        if self.cache is not None:
            self.cache[key] = srv
        return srv

    def teardown(self, failed):
        """Stops every server (in parallel); returns the unexpected log lines."""
        threads = [threading.Thread(target=srv.stop) for srv in self.servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        problems = []
        for srv in self.servers:
            bad = srv.unexpected_log_lines()
            if bad:
                problems.append("%s (%s):\n  %s" % (srv.log_path, srv.name or "server",
                                                     "\n  ".join(bad[:20])))
        keep = os.environ.get("TA_KEEP") == "1"
        for srv in self.servers:
            if keep or failed or problems:
                print("kept server directory:", srv.root)
            else:
                shutil.rmtree(srv.root, ignore_errors=True)
            if coredump_dir():
                try:
                    os.rmdir(os.path.join(coredump_dir(), srv.root.name))   # only if no core
                except OSError:
                    pass
        return problems


@pytest.fixture
def httpd(request):
    """Factory: httpd(conf=PROTECTED_CONF, apps=(App,...), registry=None, modules=(),
    global_conf="", start=True, mpm="event") -> Httpd.

    Each call gets its own server directory and free port. At teardown every
    server is stopped and the test FAILS if an error log holds unexpected
    [error]/[crit]/sanitizer lines (declare expected ones with srv.expect_log).
    """
    servers = ServerSet(request.node.name)
    yield servers.make
    rep = getattr(request.node, "rep_call", None)
    problems = servers.teardown(rep is not None and rep.failed)
    if problems:
        pytest.fail("unexpected error-log lines:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def shared_httpd(request):
    """Like httpd, but a server is shared by every test of the module that asks
    for the same (conf, registry, modules, global_conf, mpm); the error-log gate
    runs when the module ends. Use for tests that do not change server state."""
    servers = ServerSet(request.module.__name__, cache=True)
    yield servers.make
    problems = servers.teardown(False)
    if problems:
        pytest.fail("unexpected error-log lines:\n" + "\n".join(problems), pytrace=False)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def app():
    """A default ed25519 application 'app1' allowed from loopback on every path."""
    return App("app1")


@pytest.fixture(scope="module")
def shared_app():
    """App("app1") shared by the tests of a module (pairs with shared_httpd)."""
    return App("app1")
