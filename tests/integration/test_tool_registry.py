"""trustapp-admin registry commands end to end on a temporary registry:
every edit is validated, an invalid one leaves the file byte-identical and
says why, and concurrent writers never lose each other's changes."""

import os
import pwd
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tool_helpers import binary, clean_env, run, run_json, write_registry


@pytest.fixture
def reg(tmp_path):
    return tmp_path / "registry.xml"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for alg in ("ed25519", "ecdsa-p256"):
        r = run_json("keygen", "--alg", alg, "--out", d / (alg + ".key"),
                     "--public-out", d / (alg + ".pub"))
        assert r.rc == 0, r
        out[alg] = (d / (alg + ".pub"), r.json["fingerprint"])
    return out


def add(reg, keys, app_id, *extra, alg="ed25519"):
    return run_json("--registry", reg, "add", "--public-key", keys[alg][0], "--id", app_id, *extra)


def show(reg, app_id):
    r = run_json("--registry", reg, "show", app_id)
    assert r.rc == 0, r
    return r.json["application"]


def test_add_and_show(reg, keys):
    r = add(reg, keys, "confluence:5749012", "--name", "Confluence", "--ip", "10.0.0.0/8",
            "--ip", "192.168.*.*", "--path", "/rest", "--path", "/secure/RunPortlet",
            "--user-deny", "svc-*", "--protocols", "rfc9421 seraph")
    assert r.rc == 0, r
    a = show(reg, "confluence:5749012")
    assert a["name"] == "Confluence" and a["enabled"] is True
    assert a["ips"] == ["10.0.0.0/8", "192.168.*.*"]
    assert a["paths"] == ["/rest", "/secure/RunPortlet"]
    assert a["users_deny"] == ["svc-*"]
    assert a["keys"][0]["fingerprint"] == keys["ed25519"][1]
    assert a["keys"][0]["alg"] == "ed25519" and a["keys"][0]["valid_now"] is True
    assert "rfc9421" in a["protocols"] and "seraph" in a["protocols"]
    assert run_json("--registry", reg, "validate").rc == 0


def test_add_warns_about_empty_policy(reg, keys):
    r = add(reg, keys, "bare")
    assert r.rc == 0
    assert any("--ip" in w for w in r.json["warnings"])
    assert any("--path" in w for w in r.json["warnings"])


def test_registry_env_variable(reg, keys):
    r = run_json("add", "--public-key", keys["ed25519"][0], "--id", "via-env",
                 env={"TRUSTAPP_REGISTRY": str(reg)})
    assert r.rc == 0, r
    assert "via-env" in reg.read_text()


def test_timeout_in_milliseconds(reg, keys):
    assert add(reg, keys, "t", "--timeout", "10s").rc == 0
    assert show(reg, "t")["timeout_ms"] == 10000
    assert run_json("--registry", reg, "set", "t", "--timeout", "2500").rc == 0
    assert show(reg, "t")["timeout_ms"] == 2500


def test_list_set_enable_disable_remove(reg, keys):
    for i in range(3):
        assert add(reg, keys, "app%d" % i, "--ip", "127.0.0.1", "--path", "/").rc == 0
    r = run_json("--registry", reg, "list")
    assert r.rc == 0 and r.json["count"] == 3
    assert [a["id"] for a in r.json["applications"]] == ["app0", "app1", "app2"]

    assert run_json("--registry", reg, "set", "app1", "--name", "One", "--add-ip", "10.1.0.0/16",
                    "--remove-ip", "127.0.0.1", "--add-path", "/rest").rc == 0
    a = show(reg, "app1")
    assert a["name"] == "One" and a["ips"] == ["10.1.0.0/16"] and a["paths"] == ["/", "/rest"]
    assert run_json("--registry", reg, "set", "app1", "--ip", "::1", "--ip", "2001:db8::/32").rc == 0
    assert show(reg, "app1")["ips"] == ["::1", "2001:db8::/32"]

    assert run_json("--registry", reg, "disable", "app2").rc == 0
    assert show(reg, "app2")["enabled"] is False
    assert run_json("--registry", reg, "enable", "app2").rc == 0
    assert show(reg, "app2")["enabled"] is True

    assert run_json("--registry", reg, "remove", "app0").rc == 0
    r = run_json("--registry", reg, "list")
    assert [a["id"] for a in r.json["applications"]] == ["app1", "app2"]
    text = run("--registry", reg, "list")
    assert "app1" in text.out and "One" in text.out


def test_key_rotation(reg, keys):
    assert add(reg, keys, "rot", "--ip", "127.0.0.1", "--path", "/").rc == 0
    r = run_json("--registry", reg, "add-key", "rot", keys["ecdsa-p256"][0],
                 "--not-before", "2099-01-01", "--not-after", "2099-12-31T00:00:00Z")
    assert r.rc == 0, r
    assert r.json["fingerprint"] == keys["ecdsa-p256"][1]
    ks = show(reg, "rot")["keys"]
    assert [k["fingerprint"] for k in ks] == [keys["ed25519"][1], keys["ecdsa-p256"][1]]
    assert ks[1]["valid_now"] is False and ks[1]["not_before"] == "2099-01-01T00:00:00Z"
    assert run_json("--registry", reg, "remove-key", "rot", keys["ed25519"][1]).rc == 0
    assert [k["fingerprint"] for k in show(reg, "rot")["keys"]] == [keys["ecdsa-p256"][1]]


@pytest.mark.parametrize("args,token,needle", [
    (["set", "app", "--ip", "10.0.*.1"], "invalid-value", "10.0.*.1"),
    (["set", "app", "--add-path", "rest"], "invalid-value", "rest"),
    (["set", "app", "--protocols", "rfc9421 telnet"], "invalid-value", "telnet"),
    (["set", "ghost", "--name", "x"], "unknown-app", "ghost"),
    (["remove", "ghost"], "unknown-app", "ghost"),
    (["remove-key", "app", "SHA256:nope"], "key-not-removed", "SHA256:nope"),
    (["remove-key", "app", "FINGERPRINT"], "key-not-removed", "last key"),
    (["add-key", "app", "KEYFILE"], "key-exists", "already"),
    (["add", "--public-key", "KEYFILE", "--id", "app"], "app-exists", "app"),
    (["add", "--public-key", "GARBAGE", "--id", "new"], "key-invalid", "GARBAGE"),
    (["add", "--public-key", "KEYFILE", "--id", "bad id!"], "invalid-value", "bad id!"),
])
def test_invalid_input_changes_nothing(reg, keys, tmp_path, args, token, needle):
    assert add(reg, keys, "app", "--ip", "127.0.0.1", "--path", "/rest").rc == 0
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    subst = {"KEYFILE": str(keys["ed25519"][0]), "GARBAGE": str(garbage),
             "FINGERPRINT": keys["ed25519"][1]}
    args = [subst.get(a, a) for a in args]
    before = reg.read_bytes()
    r = run_json("--registry", reg, *args)
    assert r.rc == 1, r
    assert r.token == token, r
    assert needle.replace("GARBAGE", str(garbage)) in r.json["error"]["message"] or \
        (needle == "GARBAGE" and str(garbage) in r.json["error"]["message"]), r
    assert reg.read_bytes() == before


def test_text_mode_says_why(reg, keys):
    assert add(reg, keys, "app").rc == 0
    before = reg.read_bytes()
    r = run("--registry", reg, "set", "app", "--ip", "300.1.1.1")
    assert r.rc == 1 and "300.1.1.1" in r.err and "fix:" in r.err
    assert reg.read_bytes() == before


def test_usage_errors(reg, keys):
    assert run_json("--registry", reg, "add", "--id", "x").rc == 2
    assert run_json("--registry", reg, "add", "--public-key", keys["ed25519"][0]).rc == 2
    assert run_json("--registry", reg, "show").rc == 2
    assert run_json("--registry", reg, "list", "--bogus").rc == 2
    assert run_json("--registry", reg, "frobnicate").rc == 2
    assert run_json("--registry", reg, "set", "x", "--timeout", "soon").rc == 2
    assert run_json("--registry", reg, "add-key", "x", "f", "--not-before", "tomorrow").rc == 2
    assert not reg.exists()


def test_help(reg):
    r = run("add", "--help")
    assert r.rc == 0 and "--url" in r.out and "exit codes" in r.out
    r = run("--help")
    assert r.rc == 0 and "tls-fetch" in r.out and "validate" in r.out


def test_validate_reports_line_and_value(tmp_path, keys):
    pem = keys["ed25519"][0].read_text()
    good = write_registry(tmp_path / "good.xml",
                          '<application id="a"><key>%s</key><ip>10.0.0.1</ip></application>\n' % pem)
    r = run_json("validate", good)
    assert r.rc == 0 and r.json["valid"] is True and r.json["applications"] == 1, r
    bad = write_registry(tmp_path / "bad.xml",
                         '<application id="a"><key>%s</key>\n<ip>10.0.0.300</ip></application>\n' % pem)
    r = run_json("validate", bad)
    assert r.rc == 3 and r.token == "registry-invalid", r
    assert "bad.xml:" in r.json["error"]["message"] and "10.0.0.300" in r.json["error"]["message"]
    broken = tmp_path / "broken.xml"
    broken.write_text("<registry version='1'\n")
    r = run_json("validate", broken)
    assert r.rc == 3 and "broken.xml:" in r.json["error"]["message"], r
    # reading commands refuse an invalid registry with the same exit code
    assert run_json("--registry", bad, "list").rc == 3
    # and a write leaves it alone
    before = bad.read_bytes()
    r = run_json("--registry", bad, "add", "--public-key", keys["ecdsa-p256"][0], "--id", "b")
    assert r.rc == 3, r
    assert bad.read_bytes() == before


def test_missing_registry(tmp_path):
    r = run_json("--registry", tmp_path / "none.xml", "list")
    assert r.rc == 1 and r.token == "registry-missing"


def test_parallel_adds_all_land(reg, keys):
    n = 20
    cmd = [binary(), "--json", "--registry", str(reg), "add", "--public-key",
           str(keys["ed25519"][0]), "--ip", "127.0.0.1", "--path", "/", "--id"]

    def one(i):
        return subprocess.run(cmd + ["par%02d" % i], capture_output=True, text=True,
                              env=clean_env(), timeout=60)

    with ThreadPoolExecutor(max_workers=n) as ex:
        results = list(ex.map(one, range(n)))
    assert all(p.returncode == 0 for p in results), [p.stderr for p in results if p.returncode]
    r = run_json("--registry", reg, "list")
    assert r.json["count"] == n
    assert sorted(a["id"] for a in r.json["applications"]) == ["par%02d" % i for i in range(n)]
    assert run_json("--registry", reg, "validate").rc == 0
    leftovers = [p.name for p in reg.parent.iterdir() if p.name.startswith(".registry.xml.")]
    assert leftovers == []


def test_registry_keeps_mode(reg, keys):
    assert add(reg, keys, "m").rc == 0
    reg.chmod(0o640)
    assert run_json("--registry", reg, "disable", "m").rc == 0
    assert reg.stat().st_mode & 0o777 == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as two users needs root")
def test_non_root_admin_can_lock_after_root_created_the_lock_file(keys):
    """root edits first (creating registry.xml.lock, 0644, owned by root);
    an administrator who owns the registry's directory can still take the
    lock and edit: the lock needs only read access."""
    nobody = pwd.getpwnam("nobody")
    top = Path(tempfile.mkdtemp(prefix="ta-lock-"))
    try:
        top.chmod(0o755)
        tool = top / "trustapp-admin"
        shutil.copy(binary(), tool)
        pub = top / "app.pub"
        shutil.copy(keys["ed25519"][0], pub)
        pub.chmod(0o644)
        d = top / "registry"
        d.mkdir()
        reg = d / "registry.xml"
        assert add(reg, keys, "by-root").rc == 0
        lock = d / "registry.xml.lock"
        assert lock.stat().st_uid == 0 and lock.stat().st_mode & 0o777 == 0o644
        for path in (d, reg):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)

        proc = subprocess.run(
            ["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid, "--clear-groups",
             str(tool), "--json", "--registry", str(reg), "add", "--public-key", str(pub),
             "--id", "by-admin"],
            capture_output=True, text=True, env=clean_env(), timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert show(reg, "by-admin")["keys"][0]["fingerprint"] == keys["ed25519"][1]
        assert show(reg, "by-root")
        assert reg.stat().st_uid == nobody.pw_uid     # the rename kept the owner
    finally:
        shutil.rmtree(top, ignore_errors=True)
